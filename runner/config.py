"""Typed config schemas, registered in Hydra's ConfigStore.

Every YAML option in ``conf/<group>/`` extends one of these schemas, so a wrong type, an unknown
key or an invalid choice fails at composition time, before TensorFlow is imported. Each group is
consumed by the module of the same name (``data`` by sources + pipeline, ``aug`` by augment, ...).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from runner.errors import RunnerError

PACKAGE = Path(__file__).resolve().parent
# A wheel carries conf/ and experiments/ inside the package; a checkout (pip install -e) keeps
# them at its top, beside the package, with the git history a run records.
CHECKOUT = None if (PACKAGE / "conf").is_dir() else PACKAGE.parent
CONF_DIR = (CHECKOUT or PACKAGE) / "conf"
EXPERIMENTS_DIR = (CHECKOUT or PACKAGE) / "experiments"
IMAGE_EXTENSIONS = ["jpg", "jpeg", "png", "bmp", "gif", "webp"]


class ColorMode(Enum):
    grayscale = 1
    rgb = 3
    rgba = 4


class Interpolation(Enum):
    """The resize methods of ``keras.ops.image.resize`` (what image_dataset_from_directory uses)."""

    nearest = "nearest"
    bilinear = "bilinear"
    bicubic = "bicubic"
    area = "area"
    lanczos3 = "lanczos3"
    lanczos5 = "lanczos5"


class Cache(Enum):
    auto = "auto"  # memory if it fits in 40% of the memory available, else disk
    none = "none"  # decode every epoch (bad files found by data.verify first; any left are dropped)
    memory = "memory"
    disk = "disk"


class Verify(Enum):
    none = "none"
    header = "header"
    full = "full"


class LabelMode(Enum):
    int = "int"  # sparse integer labels
    categorical = "categorical"  # one-hot
    binary = "binary"  # 0/1 floats, two classes, one sigmoid output
    none = "none"  # no labels (prediction only)


class LabelsFrom(Enum):
    csv = "csv"
    parent = "parent"
    regex = "regex"
    none = "none"


class Placement(Enum):
    pipeline = "pipeline"
    model = "model"


class Schedule(Enum):
    """How the learning rate moves over a run. A resumed run follows it exactly: constant and
    cosine are functions of the step count, which Keras's backup restores; plateau's counters are
    saved beside that backup (``callbacks.ResumablePlateau``)."""

    constant = "constant"  # trainer.optimizer.learning_rate throughout
    cosine = "cosine"  # linear warm-up over trainer.warmup_epochs, then cosine decay to 0 at the end
    # times trainer.plateau_factor after trainer.plateau_patience epochs without a better monitor
    plateau = "plateau"


class Precision(Enum):
    """Keras's dtype policy for the model: mixed policies compute in 16 bits (faster on GPUs with
    tensor cores, and CPUs with AMX for bfloat16) and keep the weights and the output in float32."""

    float32 = "float32"
    mixed_float16 = "mixed_float16"  # Keras scales the loss so small gradients survive float16
    mixed_bfloat16 = "mixed_bfloat16"


@dataclass
class DataConfig:
    """What every source shares: how files become uint8 tensors and batches (pipeline.py)."""

    image_size: list[int] = field(default_factory=lambda: [64, 64])
    color_mode: ColorMode = ColorMode.rgb
    interpolation: Interpolation = Interpolation.bilinear
    crop_to_aspect_ratio: bool = False
    pad_to_aspect_ratio: bool = False
    batch_size: int = 32
    validation_split: float = 0.2
    # k-fold cross-validation: fold ``fold`` of ``folds`` stratified folds is the validation set
    # (instead of validation_split); sweep data.fold=0,...,folds-1 (experiment=cv) for every fold.
    folds: int | None = None
    fold: int = 0
    # At most this many images of each class (per train/val/test part), the same random ones in
    # every run: a quick run on a big folder, or a majority class cut down. null: all.
    max_per_class: int | None = None
    cache: Cache = Cache.auto
    cache_dir: str = "~/.cache/runner"
    verify: Verify = Verify.header
    label_mode: LabelMode = LabelMode.int

    def __post_init__(self) -> None:
        """Values no type rules out, refused when the source is built: before any file is read."""
        size = list(self.image_size)
        if len(size) != 2 or min(size) < 1:
            raise RunnerError(
                f"data.image_size={size}: needs [height, width], each at least 1 pixel, "
                f"e.g. data.image_size=[224,224]."
            )
        if self.batch_size < 1:
            raise RunnerError(
                f"data.batch_size={self.batch_size}: must be at least 1, e.g. data.batch_size=32."
            )
        if self.max_per_class is not None and self.max_per_class < 1:
            raise RunnerError(
                f"data.max_per_class={self.max_per_class}: must be at least 1, or null for every image."
            )
        if self.folds is not None and self.folds < 2:
            raise RunnerError(
                f"data.folds={self.folds}: cross-validation needs at least 2, e.g. data.folds=5."
            )
        if not 0 <= self.fold < (self.folds or 1):
            raise RunnerError(
                f"data.fold={self.fold}: "
                + (
                    f"must be in 0..{self.folds - 1} for data.folds={self.folds}."
                    if self.folds
                    else "picks a fold of data.folds, which is unset; add data.folds=5 (say)."
                )
            )

    @property
    def check_first(self) -> Verify:
        """The check to run on every file before decoding. Building a cache decodes every file and
        leaves the bad ones out with their reasons, so a header check first would only read every
        file twice; ``verify=full`` (Pillow's full decode) still runs when asked."""
        return Verify.none if self.verify == Verify.header and self.cache != Cache.none else self.verify


@dataclass
class DirData(DataConfig):
    """A folder of class subfolders, like ``keras.utils.image_dataset_from_directory``."""

    _target_: str = "runner.sources.DirSource"
    path: str = MISSING
    val_path: str | None = None  # a separate validation folder (then validation_split is unused)
    test_path: str | None = None  # a held-out folder, evaluated once after training (test_* metrics)
    # Given labels, as image_dataset_from_directory(labels=[...]): one per image file under
    # ``path`` in sorted path order; null: inferred from the class subfolders.
    labels: list[int] | None = None
    class_names: list[str] | None = None
    extensions: list[str] = field(default_factory=lambda: list(IMAGE_EXTENSIONS))
    follow_links: bool = False  # into linked folders, each once: a link back up (a loop) is not walked

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.extensions:
            raise RunnerError(
                "data.extensions=[]: names no file type to read. List some, e.g. data.extensions=[jpg,png]."
            )


@dataclass
class DigitsData(DirData):
    """scikit-learn's bundled digits, written once as PNG class folders, read as a ``dir``."""

    _target_: str = "runner.sources.DigitsSource"
    path: str = "~/.cache/runner/digits"


@dataclass
class GlobData(DataConfig):
    """Files matching ``pattern`` (``**`` recurses), labelled from a CSV, their folder or a regex."""

    _target_: str = "runner.sources.GlobSource"
    pattern: str = MISSING
    labels_from: LabelsFrom = LabelsFrom.parent
    labels_csv: str | None = None  # its paths are relative to its own folder
    path_column: str = "path"
    label_column: str = "label"
    # A column of train/val/test per row (empty: data.validation_split places it); null: none.
    split_column: str | None = None
    label_regex: str | None = None  # group 'label', or group 1, of the file name
    class_names: list[str] | None = None
    # Paths from the CSV must stay inside ``root`` (default: the CSV's folder, else the pattern's).
    root: str | None = None
    allow_outside_root: bool = False


@dataclass
class GeneratorData(DataConfig):
    """``fn='package.module:function'`` returning an iterable of (image array, label) pairs."""

    _target_: str = "runner.sources.GeneratorSource"
    fn: str = MISSING
    kwargs: dict[str, Any] = field(default_factory=dict)
    element_shape: list[int] | None = None  # declared signature; default: the first element's
    value_range: list[float] = field(default_factory=lambda: [0.0, 255.0])  # [0, 1] for float images
    class_names: list[str] | None = None


@dataclass
class AugConfig:
    """An ordered stack of Keras preprocessing layers, each ``name: {_target_: ..., **kwargs}``."""

    ops: dict[str, Any] = field(default_factory=dict)
    placement: Placement = Placement.pipeline


def check_head(dropout: float, dense: int = 1, filters: list[int] | None = None) -> None:
    """Layer sizes Keras would refuse without naming the key, or fail on deep inside a layer."""
    if any(width < 1 for width in filters or ()):
        raise RunnerError(
            f"model.filters={list(filters)}: each needs at least 1, e.g. model.filters=[32,64]."
        )
    if dense < 1:
        raise RunnerError(f"model.dense={dense}: must be at least 1, e.g. model.dense=128.")
    if not 0 <= dropout < 1:
        raise RunnerError(
            f"model.dropout={dropout}: must be at least 0 and less than 1, e.g. model.dropout=0.2."
        )


@dataclass
class SmallCNN:
    _target_: str = "runner.models.small_cnn"
    filters: list[int] = field(default_factory=lambda: [32, 64])
    dense: int = 128
    dropout: float = 0.25

    def __post_init__(self) -> None:
        check_head(self.dropout, self.dense, self.filters)


@dataclass
class Application:
    """A ``keras.applications`` backbone with a new head (``runner.models.application``)."""

    _target_: str = "runner.models.application"
    name: str = "MobileNetV2"
    weights: str | None = None  # "imagenet": pretrained, downloaded once to ~/.keras/models
    trainable: bool = True  # false: a frozen backbone, only the head learns
    dropout: float = 0.2
    backbone: dict[str, Any] = field(default_factory=dict)  # the backbone's own args, e.g. alpha

    def __post_init__(self) -> None:
        check_head(self.dropout)


@dataclass
class SavedModel:
    """A ``.keras`` file to train further (``runner.models.saved``), loaded with safe_mode."""

    _target_: str = "runner.models.saved"
    path: str = MISSING
    unfreeze: bool = False  # true: fine-tune every layer, BatchNorm excepted (after experiment=transfer)

    def __post_init__(self) -> None:
        check_keras_file(self.path)


def check_keras_file(path: str) -> None:
    """A ``.keras`` file is a zip archive: anything else is refused here, before TensorFlow, since
    Keras's own words for a damaged one are "File not found" and for a Keras 2 ``.h5`` nothing."""
    file, start = Path(path).expanduser(), b""
    if file.is_file():
        with file.open("rb") as opened:
            start = opened.read(8)
    if start == b"\x89HDF\r\n\x1a\n":
        raise RunnerError(
            f"model.path={path}: an HDF5 file (Keras 2's format); the runner loads .keras files. "
            f"Convert it once: python -c \"import keras; keras.models.load_model('{path}')"
            f".save('{file.with_suffix('.keras').name}')\""
        )
    if file.suffix != ".keras" or not file.is_file():
        raise RunnerError(
            f"model.path={path}: no .keras file there. Give a saved model, e.g. a run's "
            f"outputs/checkpoints/last.keras."
        )
    if not zipfile.is_zipfile(file):
        raise RunnerError(
            f"model.path={path}: not a .keras file (a .keras file is a zip archive, and this is none: "
            f"damaged, cut short or another format). Give a saved model, e.g. a run's "
            f"outputs/checkpoints/last.keras."
        )


@dataclass
class TrainerConfig:
    epochs: int = 10
    seed: int = 42
    # Same seed + deterministic=true gives identical metrics run to run (slower kernels on GPU).
    deterministic: bool = True
    optimizer: Any = field(
        default_factory=lambda: {"_target_": "keras.optimizers.Adam", "learning_rate": 1e-3}
    )
    precision: Precision = Precision.float32  # of the models built here; model=file keeps its own
    lr_schedule: Schedule = Schedule.constant
    warmup_epochs: int = 0  # cosine: epochs of linear warm-up from 0 to the optimizer's learning_rate
    plateau_patience: int = 2  # plateau: epochs without a better trainer.monitor before the rate drops
    plateau_factor: float = 0.5  # plateau: what the rate is multiplied by each time
    class_weight: str | None = None  # "balanced": weights from the training split's class counts
    # s: targets of 1 - s for the true class plus s / classes for each (0: none); one-hot or binary labels.
    label_smoothing: float = 0.0
    top_k: int | None = None  # also report top<k>_accuracy: the true class among the k likeliest
    monitor: str = "val_accuracy"
    early_stopping_patience: int | None = None
    verbose: int = 2


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
    resume: str | None = None  # set by `python -m runner.rerun RUN_ID --resume`: the run to continue

    def __post_init__(self) -> None:
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
    "trainer": TrainerConfig,
    "tracking": TrackingConfig,
}


def register_configs() -> None:
    """The root schema, one schema per option (kept out of --help's groups), the experiments."""
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
