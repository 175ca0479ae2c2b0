"""The augmentation stack: ``aug.ops`` (name -> Keras layer config) built in order, each seeded.

Where it runs is ``aug.placement``:
- ``pipeline`` (default): a tf.data map over *training* batches on the CPU, after the cache, so
  cached images stay un-augmented and the accelerator never waits on augmentation it could do.
- ``model``: the first layers of the model. Keras runs them only when ``training=True``, so they
  are inactive in ``evaluate``/``predict`` and in the logged model, and they run on the GPU.
Validation data is never augmented. MixUp and CutMix mix labels too, so they run in the pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras
import tensorflow as tf
from omegaconf import DictConfig

from runner.config_errors import parameters
from runner.errors import RunnerError, keras_said
from runner.schemas.aug import Placement
from runner.schemas.data import LabelMode
from runner.targets import build, check_targets, locate
from runner.words import closest

Augment = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]
SEED_STATE = "seed_generator_state"  # the name of a keras.random.SeedGenerator's variable
DRAWS_PER_BATCH = 2**20  # draws one seed generator may make per batch before reaching the next's
# String options a Keras layer takes without checking: an unknown one makes the layer do nothing.
CHOICES = {(keras.layers.RandomFlip, "mode"): ("horizontal", "vertical", "horizontal_and_vertical")}


def check_choices(target: type, op: DictConfig, where: str) -> None:
    """A string option its layer would take without checking (and then do nothing): one line
    naming it and the closest valid choice."""
    for key in op:
        choices = CHOICES.get((target, key))
        if choices and op[key] not in choices:
            raise RunnerError(
                f"{where}.{key}={op[key]}: {op._target_} takes {', '.join(choices)}."
                f"{closest(str(op[key]), choices)}"
            )


def layers(cfg: DictConfig, seed: int) -> list[keras.layers.Layer]:
    """One layer per op, in config order; each random layer gets its own seed derived from ``seed``."""
    stack = []
    for i, (name, op) in enumerate(cfg.ops.items()):
        if op is None:  # an op switched off with `aug.ops.NAME=null`
            continue
        where = f"aug.ops.{name}"
        if "_target_" not in op:
            raise RunnerError(f"{where}: needs a _target_, e.g. +{where}._target_=keras.layers.RandomFlip")
        check_targets(op, where)  # before locate imports anything
        target = locate(op._target_, where)
        check_choices(target, op, where)
        seeded = "seed" in parameters(target) and "seed" not in op
        stack.append(build(op, where, **({"seed": seed + 1000 * (i + 1)} if seeded else {})))
    return stack


def mixes_labels(layer: keras.layers.Layer) -> bool:
    return isinstance(layer, keras.layers.MixUp | keras.layers.CutMix)


def split_by_placement(cfg: DictConfig, seed: int, label_mode: LabelMode) -> tuple[list, list]:
    """(layers for the tf.data pipeline, layers for the front of the model)."""
    stack = layers(cfg, seed)
    mixing = [type(layer).__name__ for layer in stack if mixes_labels(layer)]
    if mixing and label_mode not in (LabelMode.categorical, LabelMode.multi_hot, LabelMode.regression):
        raise RunnerError(f"aug: {', '.join(mixing)} mixes one-hot labels; set data.label_mode=categorical.")
    if cfg.placement == Placement.pipeline:
        return stack, []
    if mixing:
        raise RunnerError(
            f"aug.placement=model: {', '.join(mixing)} mixes labels, which a model layer never sees; "
            f"use aug.placement=pipeline."
        )
    return [], stack


def seed_states(layers: list[keras.layers.Layer]) -> list[tuple[keras.Variable, int]]:
    """Each seed generator's state variable in ``layers`` (sublayers included), with its seed."""
    return [(v, int(v.numpy()[0])) for layer in layers for v in layer.variables if v.name == SEED_STATE]


def apply(stack: list[keras.layers.Layer]) -> Augment:
    """(uint8 images, labels, step) -> augmented (uint8 images, labels), the layers in training mode.

    Each layer's random draws come from its seed and the batch's ``step`` (the batch's number in
    the run) alone: its seed generators' state is given per batch in a ``keras.StatelessScope``
    instead of read from their variables. So the batches of a resumed run are augmented as the
    uninterrupted run's were, and no variable is read in tf.data (with op determinism on, one
    would make tf.data run the whole pipeline on one thread). Back to uint8 so the model gets the
    same input with or without augmentation in the pipeline."""
    states = seed_states(stack)

    def augment(images: tf.Tensor, labels: tf.Tensor, step: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        draws = tf.cast(step, tf.int64) * DRAWS_PER_BATCH
        seeds = [(v, tf.cast(tf.stack([tf.constant(seed, tf.int64), draws]), v.dtype)) for v, seed in states]
        data = {"images": tf.cast(images, tf.float32), "labels": tf.convert_to_tensor(labels)}
        with keras.StatelessScope(state_mapping=seeds):
            for layer in stack:
                data = refused_as_a_line(layer, data)
        return tf.saturate_cast(tf.round(data["images"]), tf.uint8), data["labels"]

    return augment


def try_on(pipeline: list, model: list, shape: tuple[int, int, int], classes: int) -> None:
    """Each layer on a blank batch of the run's images, before the run is made: what one refuses
    in them is a line then, not a FAILED run once the files are decoded. Training images must come
    out of a stack the size validation images do, the one size the model takes: unchanged in the
    pipeline (never augmented), in the model as its layers leave them in inference (RandomCrop:
    unchanged too)."""
    labels = tf.one_hot([0, classes - 1], classes)  # MixUp's and CutMix's kind; the others pass them on
    blank = tf.zeros((2, *shape), tf.uint8)
    for stack, in_model in ((pipeline, False), (model, True)):
        trained, resized = blank, None
        for layer in stack:
            augmented, _ = apply([layer])(trained, labels, tf.constant(0))
            if augmented.shape != trained.shape and resized is None:
                resized = layer
            trained = augmented
        validated = inference(stack, blank) if in_model else blank
        if trained.shape != validated.shape:
            raise RunnerError(
                f"aug ({type(resized).__name__}): training images come out {size(trained)}, "
                f"validation images {size(validated)}, and the model takes one size. End aug.ops with "
                f"a keras.layers.Resizing back to data.image_size, or keep the size (RandomZoom "
                f"instead of RandomCrop)."
            )


def inference(stack: list, images: tf.Tensor) -> tf.Tensor:
    x = tf.cast(images, tf.float32)
    for layer in stack:
        x = layer(x, training=False)
    return x


def size(images: tf.Tensor) -> str:
    return "×".join(str(n) for n in images.shape[1:])


def refused_as_a_line(layer: keras.layers.Layer, data: dict) -> dict:
    """``layer`` on ``data`` in training mode; what it refuses in these images (RandAugment
    takes 1 or 3 channels, not RGBA's 4) is one line, not a traceback. Only a layer that mixes
    labels is given them: the others pass them on untouched, and some take images alone
    (``RandomGrayscale`` fails on the dict)."""
    try:
        if mixes_labels(layer):
            return layer(data, training=True)
        return {**data, "images": layer(data["images"], training=True)}
    except (ValueError, TypeError, tf.errors.OpError) as err:
        raise RunnerError(
            f"aug ({type(layer).__name__}): {keras_said(err).rstrip('.')}. Drop or change that op in "
            f"aug.ops, or the images it gets (data.color_mode, data.image_size)."
        ) from err


def image_data_generator(
    rotation_range: float = 0.0,
    width_shift_range: float = 0.0,
    height_shift_range: float = 0.0,
    shear_range: float = 0.0,
    zoom_range: float = 0.0,
    horizontal_flip: bool = False,
    vertical_flip: bool = False,
    brightness_range: tuple[float, float] | None = None,
    fill_mode: str = "nearest",
    seed: int | None = None,
) -> keras.layers.Pipeline:
    """``ImageDataGenerator``'s augmentation arguments, as Keras 3 preprocessing layers.

    Conversions (IDG argument -> layer):
    - rotation_range (degrees) -> RandomRotation(factor=rotation_range / 360), a fraction of a turn.
    - width/height_shift_range (fraction of size) -> RandomTranslation(height_factor, width_factor).
    - shear_range (degrees) -> RandomShear(x_factor=tan(shear_range)), a fraction of the width.
    - zoom_range z -> RandomZoom(height_factor=(-z, z)): IDG scales by [1-z, 1+z]; same range.
    - horizontal_flip / vertical_flip -> RandomFlip(mode).
    - brightness_range [a, b] (a multiplier) -> RandomBrightness(factor=((a-1)/2, (b-1)/2)): Keras
      adds a shift instead of multiplying; the two agree for mid-grey pixels.
    - fill_mode -> the fill_mode of every geometric layer (IDG's default, "nearest", is kept).
    """
    seeds = iter(range(seed or 0, (seed or 0) + 100))
    geometric = {"fill_mode": fill_mode}
    stack: list[keras.layers.Layer] = []
    if horizontal_flip or vertical_flip:
        mode = (
            "horizontal_and_vertical"
            if horizontal_flip and vertical_flip
            else ("horizontal" if horizontal_flip else "vertical")
        )
        stack.append(keras.layers.RandomFlip(mode, seed=next(seeds)))
    if rotation_range:
        stack.append(keras.layers.RandomRotation(rotation_range / 360, seed=next(seeds), **geometric))
    if width_shift_range or height_shift_range:
        stack.append(
            keras.layers.RandomTranslation(
                height_shift_range, width_shift_range, seed=next(seeds), **geometric
            )
        )
    if shear_range:
        stack.append(
            keras.layers.RandomShear(
                x_factor=math.tan(math.radians(shear_range)), seed=next(seeds), **geometric
            )
        )
    if zoom_range:
        stack.append(keras.layers.RandomZoom((-zoom_range, zoom_range), seed=next(seeds), **geometric))
    if brightness_range:
        low, high = brightness_range
        stack.append(keras.layers.RandomBrightness(((low - 1) / 2, (high - 1) / 2), seed=next(seeds)))
    return keras.layers.Pipeline(stack, name="image_data_generator")
