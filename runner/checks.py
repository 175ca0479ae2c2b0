"""The config values that can be refused before TensorFlow starts.

``train(cfg)`` checks them first (so ``trainer.epochs=0`` or a missing ``data.path`` is one line
within a second or two, not after TensorFlow's start), then the labels against the classes and
the monitor against the split once the files are indexed. The ``trainer`` values are
``runner.trainer_checks``'; checks that need Keras (an optimizer's or a layer's arguments) are
``runner.targets.build``'s.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from runner.errors import RunnerError
from runner.keys import elsewhere
from runner.schemas.data import ColorMode, LabelMode
from runner.sources import FileIndex
from runner.split import check_splittable
from runner.targets import check_targets
from runner.trainer_checks import check_trainer
from runner.words import closest


def check_config(cfg: DictConfig) -> None:
    """Every ``_target_`` against the allowed ones, the trainer values, then the ``data``, ``model``
    and ``tracking`` nodes built as their schema dataclasses (``runner.schemas``), whose
    ``__post_init__`` refuses what no type rules out and whose missing values (``data.path``,
    ``model.path``) are refused by OmegaConf."""
    check_added_keys(cfg, "")
    for group, node in cfg.items():
        check_targets(node, str(group))
    check_trainer(cfg.trainer, cfg.data.label_mode)
    for group in ("data", "model", "tracking"):
        OmegaConf.to_object(cfg[group])
    check_input_size(cfg.data.image_size, cfg.model)
    check_saved_input(cfg.data, cfg.model)


def check_added_keys(node: DictConfig, where: str, root: DictConfig | None = None) -> None:
    """A key added with ``+`` where a schema has fixed keys (``+trainer.patience=3``): Hydra adds it
    past the schema, and nothing would ever read it. Open mappings (``trainer.optimizer``,
    ``model.backbone``, ``tracking.tags``) take new keys: they are their targets' arguments."""
    schema = OmegaConf.get_type(node)
    if not dataclasses.is_dataclass(schema):
        return
    valid, root = [field.name for field in dataclasses.fields(schema)], root or node
    for key, value in node.items_ex(resolve=False):
        name = f"{where}{key}"
        if key not in valid:
            suggestion = elsewhere(name, root) or closest(str(key), valid)
            raise RunnerError(
                f"+{name}: no such key, so nothing would read it (a '+' adds keys to open mappings "
                f"only, e.g. +trainer.optimizer.momentum=0.9).{suggestion} Valid keys "
                f"{f'of {where[:-1]}' if where else 'at the top'}: {', '.join(valid)}."
            )
        if isinstance(value, DictConfig):
            check_added_keys(value, f"{name}.", root)


def check_input_size(size: list[int], model: DictConfig) -> None:
    """``small_cnn`` halves the image once per conv block: a side under ``2**blocks`` pixels leaves
    nothing for the last pooling, which Keras says in its own words (no key) after TensorFlow's
    start. Backbones' limits are Keras's, said with the key as the model is built."""
    if model.get("_target_") != "runner.models.small_cnn":
        return
    blocks, shown = len(model.filters), list(size)
    least = 2**blocks
    if min(size) < least:
        side = max(least, 32)
        raise RunnerError(
            f"data.image_size={shown}: model=small_cnn halves it once per model.filters entry "
            f"({blocks} of them), so each side needs at least {least} pixels. Raise it (e.g. "
            f"data.image_size=[{side},{side}]) or give fewer model.filters."
        )


def check_saved_input(data: DictConfig, model: DictConfig) -> None:
    """``model=file``: the image shape the saved model takes, read from its ``config.json``, against
    the data's. Loading it (once the files are indexed and TensorFlow has started) would say the
    same, later. A model whose config names no input layer (a subclassed one) is left to that load."""
    if model.get("_target_") != "runner.models.saved":
        return
    inputs = [layer for layer in saved_layers(model.path) if layer.get("class_name") == "InputLayer"]
    shape = inputs[0].get("config", {}).get("batch_shape") if inputs else None
    gives = (*data.image_size, data.color_mode.value)
    if shape and len(shape) == 4 and not fits(tuple(shape[1:]), gives):
        raise other_input_shape(model.path, tuple(shape[1:]), gives)


def check_saved_outputs(model: DictConfig, outputs: int) -> None:
    """``model=file``: the units of the saved model's last layer, if a Dense (a runner model's
    head), against the ``outputs`` this run needs: before TensorFlow starts and loads it."""
    if model.get("_target_") != "runner.models.saved":
        return
    last = (saved_layers(model.path) or [{}])[-1]
    units = last.get("config", {}).get("units") if last.get("class_name") == "Dense" else None
    if units is not None and units != outputs:
        raise other_outputs(model.path, units, outputs)


def saved_layers(path: str) -> list[dict]:
    """The layers' configs in a ``.keras`` file's ``config.json``, in order; none if it has none."""
    try:
        with zipfile.ZipFile(Path(path).expanduser()) as archive:
            config = json.loads(archive.read("config.json"))
    except (KeyError, ValueError):  # no config.json, or not JSON: Keras's load will say what
        return []
    return config.get("config", {}).get("layers", [])


def fits(takes: tuple, gives: tuple) -> bool:
    """A model's input shape takes the data's: ``None`` (a model of any image size) takes any."""
    return len(takes) == len(gives) and all(t is None or t == g for t, g in zip(takes, gives, strict=True))


def other_input_shape(path: str, takes: tuple, gives: tuple) -> RunnerError:
    """A saved model that takes images of another shape than the data's: the settings that match it."""
    sized = None not in takes[:2] and takes[:2] != gives[:2]
    fixes = [f"data.image_size=[{takes[0]},{takes[1]}]"] if sized else []
    fixes += [f"data.color_mode={c.name}" for c in ColorMode if c.value == takes[2] != gives[2]]
    return RunnerError(
        f"model.path={path}: takes images of shape {takes}, the data gives {gives}. Set {' '.join(fixes)}."
    )


def other_outputs(path: str, gives: int, needs: int) -> RunnerError:
    return RunnerError(
        f"model.path={path}: gives {gives} outputs, and this run needs {needs} (one per class; one "
        f"for data.label_mode=binary). Give it images of the classes it was trained on "
        f"(data.class_names=[...] picks them), or start from a backbone (model=application)."
    )


def check_labels(cfg: DictConfig, index: FileIndex) -> None:
    """The indexed files' labels (some, of two classes at least: ``check_splittable``), then
    ``data.label_mode`` and the trainer's label settings against those classes."""
    check_splittable(cfg.data, index)
    mode, smoothing, top_k = cfg.data.label_mode, cfg.trainer.label_smoothing, cfg.trainer.top_k
    num_classes = len(index.class_names)
    if mode == LabelMode.none:
        raise RunnerError(
            "data.label_mode=none: there are no labels to train on; use int, categorical or binary."
        )
    if mode == LabelMode.multi_hot and index.multi is None:
        raise RunnerError(
            "data.label_mode=multi_hot: reads several classes per image from a CSV's label cell "
            "(data=glob data.labels_from=csv data.labels_csv=FILE, cells like 'cat dog') or a "
            "generator's lists (data=generator); a class folder gives one."
        )
    if mode == LabelMode.regression:
        check_regression(cfg, index)
        return
    if mode == LabelMode.multi_hot and (top_k or cfg.trainer.class_weight):
        setting = f"trainer.top_k={top_k}" if top_k else f"trainer.class_weight={cfg.trainer.class_weight}"
        raise RunnerError(
            f"{setting}: for one class per image, and data.label_mode=multi_hot gives several. Drop it."
        )
    if mode == LabelMode.binary and num_classes != 2:
        raise RunnerError(
            f"data.label_mode=binary needs exactly 2 classes, found {num_classes}; use int or categorical."
        )
    if not 0 <= smoothing < 1:
        raise RunnerError(
            f"trainer.label_smoothing={smoothing}: must be at least 0 and less than 1, "
            f"e.g. trainer.label_smoothing=0.1."
        )
    if smoothing and mode == LabelMode.int:  # Keras's sparse loss has no label_smoothing
        raise RunnerError(
            f"trainer.label_smoothing={smoothing}: smooths one-hot labels, and data.label_mode=int "
            f"gives class numbers; add data.label_mode=categorical."
        )
    if top_k and top_k >= num_classes:  # binary runs too: two classes
        raise RunnerError(
            f"trainer.top_k={top_k}: this run has {num_classes} classes, so the true class is always "
            f"among the {top_k} likeliest. Set trainer.top_k below the number of classes, or null."
        )
    check_saved_outputs(cfg.model, 1 if mode == LabelMode.binary else num_classes)


def check_regression(cfg: DictConfig, index: FileIndex) -> None:
    """What a number per image takes: numbers from a source that reads them (class folders give
    classes), and none of the settings that are about classes."""
    if index.numbers is None:
        raise RunnerError(
            "data.label_mode=regression: reads a number per image from a CSV's label cell "
            "(data=glob data.labels_from=csv data.labels_csv=FILE), a file's name (data=glob "
            "data.labels_from=regex) or its folder's (data=glob 'data.pattern=DIR/*/*' "
            "data.labels_from=parent), or a generator's labels (data=generator); data=dir gives classes."
        )
    about_classes = {
        "trainer.top_k": cfg.trainer.top_k,
        "trainer.class_weight": cfg.trainer.class_weight,
        "trainer.label_smoothing": cfg.trainer.label_smoothing or None,
        "data.class_names": cfg.data.get("class_names"),
    }
    for key, value in about_classes.items():
        if value is not None:
            raise RunnerError(
                f"{key}={value}: is about classes, and data.label_mode=regression predicts a number. Drop it."
            )
    check_saved_outputs(cfg.model, 1)
