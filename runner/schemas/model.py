"""``model``: what ``runner.models`` builds or loads."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING

from runner.errors import RunnerError
from runner.words import closest, closest_path, function_form


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
        check_weights(self.weights)


@dataclass
class SavedModel:
    """A ``.keras`` file to train further (``runner.models.saved``), loaded with safe_mode."""

    _target_: str = "runner.models.saved"
    path: str = MISSING
    unfreeze: bool = False  # true: fine-tune every layer, BatchNorm excepted (after experiment=transfer)

    def __post_init__(self) -> None:
        check_keras_file(self.path)


@dataclass
class FunctionModel:
    """Your own Keras model, built by your function (``runner.models.from_function``)."""

    _target_: str = "runner.models.from_function"
    fn: str = MISSING  # package.module:function(input_shape, num_classes, **kwargs) -> keras.Model
    kwargs: dict[str, Any] = field(default_factory=dict)  # its own arguments: +model.kwargs.width=64

    def __post_init__(self) -> None:
        module, _, name = self.fn.partition(":")
        if not module or not name:
            raise RunnerError(function_form("model.fn", self.fn, "mymodels:build"))


def check_weights(weights: str | None) -> None:
    """What Keras takes as ``weights`` (its words name neither the key nor a near miss), refused
    before the files are decoded and a run is made."""
    if weights in (None, "imagenet") or Path(weights).expanduser().is_file():
        return
    raise RunnerError(
        f"model.weights={weights}: neither imagenet nor a weights file.{closest(weights, ['imagenet'])} "
        f"Give model.weights=imagenet (pretrained), null (random initial weights) or the path of "
        f"a backbone's .weights.h5 file."
    )


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
            f"model.path={path}: no .keras file there.{closest_path(file)} Give a saved model, e.g. a run's "
            f"outputs/checkpoints/last.keras."
        )
    if not zipfile.is_zipfile(file):
        raise RunnerError(
            f"model.path={path}: not a .keras file (a .keras file is a zip archive, and this is none: "
            f"damaged, cut short or another format). Give a saved model, e.g. a run's "
            f"outputs/checkpoints/last.keras."
        )
