"""Where the configs are, and their typed schemas registered in Hydra's ConfigStore.

Every YAML option in ``conf/<group>/`` extends a schema of ``runner/schemas/<group>.py``, so a
wrong type, an unknown key or an invalid choice fails at composition time, before TensorFlow is
imported. Each group is consumed by the module of its name (``data`` by sources + pipeline, ``aug``
by augment, ...).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from runner.errors import RunnerError
from runner.schemas.aug import AugConfig
from runner.schemas.data import DigitsData, DirData, GeneratorData, GlobData
from runner.schemas.model import Application, FunctionModel, SavedModel, SmallCNN
from runner.schemas.tracking import TrackingConfig
from runner.schemas.trainer import TrainerConfig
from runner.trainer_checks import sweep_direction

PACKAGE = Path(__file__).resolve().parent
# A wheel carries conf/ and experiments/ inside the package; a checkout (pip install -e) keeps
# them at its top, beside the package, with the git history a run records.
CHECKOUT = None if (PACKAGE / "conf").is_dir() else PACKAGE.parent
CONF_DIR = (CHECKOUT or PACKAGE) / "conf"
EXPERIMENTS_DIR = (CHECKOUT or PACKAGE) / "experiments"


@dataclass
class RunnerConfig:
    data: Any = MISSING
    aug: AugConfig = MISSING
    model: Any = MISSING
    trainer: TrainerConfig = MISSING
    tracking: TrackingConfig = MISSING


# Stored as ``<key>_schema``: a YAML option extends one with ``- /<key>_schema@_here_``.
SCHEMAS: dict[str, type] = {
    "data_dir": DirData,
    "data_digits": DigitsData,
    "data_glob": GlobData,
    "data_generator": GeneratorData,
    "aug": AugConfig,
    "model_small_cnn": SmallCNN,
    "model_application": Application,
    "model_file": SavedModel,
    "model_function": FunctionModel,
    "trainer": TrainerConfig,
    "tracking": TrackingConfig,
}


def register_configs() -> None:
    """The root schema, one schema per option (kept out of --help's groups), the experiments, and
    ``${runner.pid:}``, which keeps apart the output folders of runs started in the same second.
    Cached in the config, as Hydra's ``now`` is, so a launcher's worker processes (joblib) name the
    sweep's folder with the sweep's process id, not their own."""
    OmegaConf.register_new_resolver("runner.pid", os.getpid, replace=True, use_cache=True)
    OmegaConf.register_new_resolver("runner.direction", sweep_direction, replace=True)
    cs = ConfigStore.instance()
    cs.store(name="runner_schema", node=RunnerConfig)
    for key, node in SCHEMAS.items():
        cs.store(name=f"{key}_schema", node=node)
    register_experiments(EXPERIMENTS_DIR)


def compose(overrides: list[str]) -> DictConfig:
    """The config ``python -m runner OVERRIDES`` would run, for tools that are not Hydra apps."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register_configs()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return hydra_compose("config", overrides)


def register_experiments(folder: Path) -> None:
    """Make each committed ``experiments/NAME.yaml`` selectable as ``experiment=NAME``."""
    cs = ConfigStore.instance()
    for path in sorted(folder.glob("*.yaml")):
        if not path.read_text().startswith("# @package _global_"):
            raise RunnerError(f"{path}: an experiment preset must start with '# @package _global_'")
        cs.store(group="experiment", name=path.stem, node=OmegaConf.load(path), package="_global_")
