"""``data``: how files are found and labelled (``runner.sources``) and become uint8 batches
(``runner.pipeline``, ``runner.decode``, ``runner.cache``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omegaconf import MISSING

from runner.errors import RunnerError

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
    # Several classes per image (a CSV's label cell, split by data.label_separator): a 0/1 vector
    # over the classes, one sigmoid output each.
    multi_hot = "multi_hot"
    # A number per image to predict (an age, a count, a score: a CSV cell, a file name's or its
    # folder's, a generator's label): one linear output, mean squared error.
    regression = "regression"
    none = "none"  # no labels (prediction only)


class LabelsFrom(Enum):
    csv = "csv"
    parent = "parent"
    regex = "regex"
    none = "none"


LABELLED_BY = {
    LabelsFrom.csv: "its row in data.labels_csv",
    LabelsFrom.parent: "its folder's name",
    LabelsFrom.regex: "data.label_regex on its file name",
    LabelsFrom.none: "nothing",
}


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
        if self.max_per_class is not None and self.label_mode in (LabelMode.multi_hot, LabelMode.regression):
            several = self.label_mode == LabelMode.multi_hot
            gives = "an image counts in several" if several else "there are none"
            raise RunnerError(
                f"data.max_per_class={self.max_per_class}: caps single-label classes, and with "
                f"data.label_mode={self.label_mode.value} {gives}. Drop it (data.max_per_class=null)."
            )
        if not 0 <= self.validation_split < 1:  # -0.1 read as none, 1.5 refused only as it split
            percent = 1 < self.validation_split < 100 and float(self.validation_split).is_integer()  # 20%
            meant = f"{self.validation_split / 100:g}" if percent else "0.2"
            raise RunnerError(
                f"data.validation_split={self.validation_split}: must be a share from 0 (validate on "
                f"none) to below 1, e.g. data.validation_split={meant}."
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
    # data.label_mode=multi_hot: what separates an image's classes in its CSV label cell ("cat dog").
    label_separator: str = " "
    class_names: list[str] | None = None
    # Paths from the CSV must stay inside ``root`` (default: the CSV's folder, else the pattern's).
    root: str | None = None
    allow_outside_root: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_labels_from()
        if not self.label_separator:
            raise RunnerError(
                "data.label_separator='': separates nothing; give the character between an image's "
                "classes in its label cell, e.g. 'data.label_separator=|'."
            )
        try:
            re.compile(self.label_regex or "")
        except re.error as err:
            raise RunnerError(
                f"data.label_regex={self.label_regex!r}: not a regular expression ({err}). Its group "
                f"'label', or group 1, is the class, e.g. 'data.label_regex=\"^(?P<label>[a-z]+)_\"'."
            ) from err

    def check_labels_from(self) -> None:
        """A CSV or a regex given for another ``labels_from`` would be ignored, and the run trained
        on the folders' names (a regression on no numbers at all) without a word."""
        read_with = {
            "labels_csv": LabelsFrom.csv,
            "split_column": LabelsFrom.csv,
            "label_regex": LabelsFrom.regex,
        }
        for key, mode in read_with.items():
            if getattr(self, key) and self.labels_from != mode:
                raise RunnerError(
                    f"data.{key}={getattr(self, key)!r} is read only with data.labels_from={mode.value}; "
                    f"this run labels each image by {LABELLED_BY[self.labels_from]} "
                    f"(data.labels_from={self.labels_from.value}). Add data.labels_from={mode.value}, "
                    f"or drop data.{key}."
                )


@dataclass
class GeneratorData(DataConfig):
    """``fn='package.module:function'`` returning an iterable of (image array, label) pairs."""

    _target_: str = "runner.sources.GeneratorSource"
    fn: str = MISSING
    kwargs: dict[str, Any] = field(default_factory=dict)
    # The declared signature (default: the first element's); null takes any: [null,null,3].
    element_shape: list[int | None] | None = None
    value_range: list[float] = field(default_factory=lambda: [0.0, 255.0])  # [0, 1] for float images
    class_names: list[str] | None = None
