"""``tracking``: where and how ``runner.tracking`` records a run in MLflow."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from runner.errors import RunnerError


@dataclass
class TrackingConfig:
    uri: str = "sqlite:///mlflow.db"
    experiment: str = "runner"
    run_name: str | None = None
    log_model: bool = True
    # A name in MLflow's model registry: the run's model becomes its next version (models:/NAME/N).
    register_as: str | None = None
    tags: dict[str, str] = field(default_factory=dict)  # your own: +tracking.tags.owner=ana
    description: str | None = None  # the run's note in the MLflow UI
    # MLflow's system metrics (CPU, memory, disk, network; GPUs with pynvml) as system/* every 10 s;
    # null: as MLflow's MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING says (off unless set).
    system_metrics: bool | None = None
    rerun_of: str | None = None  # set by `python -m runner.rerun RUN_ID`: the run this one repeats
    # The run to continue: set by `python -m runner.rerun RUN_ID --resume`; with -m, a sweep's run
    # (the sweep's command + tracking.resume=SWEEP_RUN_ID: runner/sweep_resume.py).
    resume: str | None = None

    def __post_init__(self) -> None:
        if self.uri.startswith("sqlite:///~"):  # sqlite and MLflow take it as a folder's name
            home = os.path.expanduser(self.uri.removeprefix("sqlite:///"))
            raise RunnerError(
                f"tracking.uri={self.uri}: '~' is not your home folder here; the store would go in a "
                f"folder named '~' in this one. Give the full path: tracking.uri=sqlite:///{home}"
            )
        if not self.experiment.strip():  # MLflow's rule, after seconds of opening the store
            raise RunnerError(
                f"tracking.experiment={self.experiment!r}: an experiment needs a name, e.g. "
                f"tracking.experiment=pets (default: runner)."
            )
        if self.register_as and not self.log_model:
            raise RunnerError(
                f"tracking.register_as={self.register_as}: registers the logged model, and "
                f"tracking.log_model=false logs none. Drop one of the two."
            )
        if self.register_as and any(c in self.register_as for c in "/:"):  # MLflow's rule, after training
            raise RunnerError(
                f"tracking.register_as={self.register_as}: a registered model's name cannot contain "
                f"'/' or ':' (it is read back as models:/NAME/VERSION), e.g. "
                f"tracking.register_as={self.register_as.replace('/', '-').replace(':', '-')}."
            )
