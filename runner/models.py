"""Model builders, one per ``model`` option. Each takes the data's ``input_shape`` and
``num_classes`` (and the ``aug.placement=model`` layers) plus its own config.

Models accept uint8 images and cast/rescale them in their first layers, so the input pipeline
moves 4x fewer bytes and the logged model takes raw pixels at inference.
"""

from __future__ import annotations

import importlib
import logging
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import keras
from keras import layers
from omegaconf import DictConfig, OmegaConf

from runner.checks import fits, other_input_shape, other_outputs
from runner.config_errors import no_such_parameter, parameters
from runner.errors import RunnerError
from runner.functions import call_with_kwargs, called, load_function
from runner.model_checks import check_yours, squashed
from runner.words import closest

log = logging.getLogger(__name__)
# The MobileNets' warning that they load ImageNet weights made for another size than the input's.
OTHER_SIZE = re.compile(r"`rows` is not (?:in \[([\d, ]+)\]|(\d+))\. Weights for input shape \((\d+), ")


def small_cnn(
    input_shape: Sequence[int],
    num_classes: int,
    filters: Sequence[int] = (32, 64),
    dense: int = 128,
    dropout: float = 0.25,
    augmentation: Sequence[keras.layers.Layer] = (),
    output: str | None = None,
) -> keras.Model:
    """Conv-pool blocks, then a dense head: enough for digits and small photo folders."""
    inputs, x = image_input(input_shape, augmentation)
    x = layers.Rescaling(1.0 / 255)(x)
    for width in filters:
        x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(dense, activation="relu")(x)
    return keras.Model(inputs, head(num_classes, output)(x), name="small_cnn")


def image_input(
    shape: Sequence[int], augmentation: Sequence[keras.layers.Layer], dtype: str = "uint8"
) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """The model's image input, and what comes out of the ``aug.placement=model`` layers after it
    (Keras runs them only in training)."""
    inputs = keras.Input(shape=tuple(shape), dtype=dtype, name="image")
    x = inputs
    for layer in augmentation:
        x = layer(x)
    return inputs, x


def head(num_classes: int, output: str | None = None) -> keras.layers.Dense:
    """The output layer, whose activation is ``output``: by default a softmax over the classes, or
    one sigmoid unit for ``data.label_mode=binary`` (``num_classes`` 1; a softmax over one unit is
    always 1 and would never learn); ``sigmoid``: one per class for ``multi_hot`` (each class its
    own yes or no); ``linear``: the number of a ``regression``. float32 under a mixed
    ``trainer.precision`` too: probabilities near 0 and 1 need its range."""
    activation = output or ("sigmoid" if num_classes == 1 else "softmax")
    name = "value" if activation == "linear" else "probabilities"
    return layers.Dense(num_classes, activation=activation, name=name, dtype="float32")


def application(
    input_shape: Sequence[int],
    num_classes: int,
    name: str = "MobileNetV2",
    weights: str | None = None,
    trainable: bool = True,
    dropout: float = 0.2,
    backbone: Mapping[str, Any] | None = None,
    augmentation: Sequence[keras.layers.Layer] = (),
    output: str | None = None,
) -> keras.Model:
    """A ``keras.applications`` backbone (no top, average-pooled) with a new ``head``.

    The backbone's own ``preprocess_input`` runs inside the model, so it takes uint8 pixels like
    every runner model; grayscale images are repeated to the three channels backbones expect,
    RGBA ones lose their alpha.
    ``trainable=false`` freezes the backbone and runs its BatchNorm in inference mode (the
    transfer-learning recipe for ``weights=imagenet``): only the head learns."""
    constructor = application_named(name)
    inputs, x = image_input(input_shape, augmentation)
    x = keras.ops.cast(x, "float32")
    if input_shape[-1] == 1:
        x = keras.ops.repeat(x, 3, axis=-1)
    elif input_shape[-1] == 4:  # rgba: backbones see the colour, not the transparency
        x = x[..., :3]
    x = family(constructor).preprocess_input(x)
    options = dict(backbone or {})
    check_options(constructor, options)
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always", UserWarning)  # a sweep's every job says it
            base = constructor(
                include_top=False,
                weights=weights,
                input_shape=(*input_shape[:2], 3),
                pooling="avg",
                **options,
            )
    except ValueError as err:  # Keras's own checks: input size, weights, backbone options
        given = "".join(f", {key}={value}" for key, value in options.items())
        said = str(err).splitlines()[0]
        if smallest := re.search(r"at least (\d+)x(\d+)", said):
            said += f". Give it data.image_size=[{smallest[1]},{smallest[2]}] or larger"
        raise RunnerError(
            f"model.name={name} (weights={weights}, data.image_size={list(input_shape[:2])}{given}): {said}"
        ) from err
    except Exception as err:
        if weights is None:
            raise
        # A failed download: Keras raises a plain Exception with urllib's reason.
        raise RunnerError(
            f"model.weights={weights}: cannot get {name}'s weights ({err}). They download once to "
            f"~/.keras/models; without internet use model.weights=null (random initial weights)."
        ) from err
    for warning in warned:  # one line each, not Python's warning and the source line it points to
        log.warning(in_words(name, input_shape[:2], str(warning.message)))
    base.trainable = trainable
    x = base(x, training=None if trainable else False)
    x = layers.Dropout(dropout)(x)
    return keras.Model(inputs, head(num_classes, output)(x), name=f"{name}_classifier")


def application_named(name: str) -> Callable[..., keras.Model]:
    names = [n for n, f in vars(keras.applications).items() if n[:1].isupper() and callable(f)]
    if name not in names:
        raise RunnerError(
            f"model.name={name}: not in keras.applications.{closest(name, names)} "
            f"Choose one of: {', '.join(names)}."
        )
    return getattr(keras.applications, name)


def in_words(name: str, size: Sequence[int], warned: str) -> str:
    """A warning of a backbone's constructor as the runner says it; for ImageNet weights of
    another size, the sizes there are and the nearest (a MobileNet at 150 px gets 224 px's)."""
    other_size = OTHER_SIZE.search(warned)
    if other_size is None:
        return f"model.name={name}: {warned}"
    sizes = [int(side) for side in (other_size[1] or other_size[2]).split(",")]
    near = min(sizes, key=lambda side: abs(side - max(size)))
    made_for = ", ".join(map(str, sizes[:-1])) + " or " * (len(sizes) > 1) + str(sizes[-1])
    return (
        f"model.name={name}: its ImageNet weights are made for {made_for} px squares, and data.image_size="
        f"{list(size)} gets those for {other_size[3]} px: they work at other sizes, best near their own "
        f"(data.image_size=[{near},{near}] is {'the nearest' if len(sizes) > 1 else 'theirs'})."
    )


def family(constructor: Callable) -> ModuleType:
    """The public module of a backbone (keras.applications.mobilenet_v2): its preprocess_input."""
    return importlib.import_module(f"keras.applications.{constructor.__module__.rpartition('.')[2]}")


def check_options(constructor: Callable, options: dict[str, Any]) -> None:
    fixed = {"include_top", "weights", "input_shape", "pooling", "input_tensor", "classes", "name"}
    fixed |= {"classifier_activation"}  # the runner makes the head
    allowed = [p for p in parameters(constructor) if p not in fixed]
    for key in options:
        if key not in allowed:
            raise no_such_parameter(f"model.backbone.{key}", constructor.__name__, allowed)


def saved(
    path: str,
    input_shape: Sequence[int],
    num_classes: int,
    unfreeze: bool = False,
    augmentation: Sequence[keras.layers.Layer] = (),
    output: str | None = None,
) -> keras.Model:
    """A ``.keras`` file (a past run's checkpoint, or any saved classifier) to train further.

    Loaded with ``safe_mode``: a file that would run code on load (a ``Lambda`` layer) is refused.
    It must take the data's image shape and give one output per class. ``unfreeze``: the second
    stage of transfer learning, see ``fine_tune``."""
    try:  # a file that is no .keras zip was refused by the config (``config.check_keras_file``)
        model = keras.models.load_model(Path(path).expanduser(), compile=False, safe_mode=True)
    except ValueError as err:
        code = "safe_mode" in str(err)
        reason = "it holds code (a Lambda layer), which safe_mode does not load" if code else err
        raise RunnerError(f"model.path={path}: cannot load: {reason}.") from err
    takes, gives = tuple(model.input_shape[1:]), model.output_shape[-1]
    if not fits(takes, tuple(input_shape)):
        raise other_input_shape(path, takes, tuple(input_shape))
    if gives != num_classes:
        raise other_outputs(path, gives, num_classes)
    if output == "sigmoid" and getattr(model.layers[-1], "activation", None) is not keras.activations.sigmoid:
        raise RunnerError(
            f"model.path={path}: its output layer is no sigmoid, and data.label_mode=multi_hot needs "
            f"one sigmoid per class (each class its own yes or no): train it from a multi-label run."
        )
    if output == "linear" and (squashing := squashed(model)):
        raise RunnerError(
            f"model.path={path}: its output layer is a {squashing}, and data.label_mode=regression "
            f"predicts any number: train it from a regression run, or start from a backbone "
            f"(model=application)."
        )
    if unfreeze:
        fine_tune(model)
    if not augmentation:
        return model
    inputs, x = image_input(takes, augmentation, dtype=model.inputs[0].dtype)
    return keras.Model(inputs, model(x), name=model.name)


def from_function(
    fn: str,
    input_shape: Sequence[int],
    num_classes: int,
    kwargs: Mapping[str, Any] | None = None,
    augmentation: Sequence[keras.layers.Layer] = (),
    output: str | None = None,
) -> keras.Model:
    """Your own model: ``fn(input_shape=..., num_classes=..., **kwargs)`` returns a ``keras.Model``
    that takes float32 pixels 0-255 (as ``keras.applications`` models do) and gives probabilities:
    a softmax over ``num_classes``, one sigmoid unit for ``data.label_mode=binary`` (``num_classes``
    1), a sigmoid per class for ``multi_hot``, or one number for ``regression`` (no activation: the
    runner scales it to the numbers' range, ``fit.in_units``). The runner puts the uint8 input and the
    ``aug.placement=model`` layers before it."""
    mine = OmegaConf.to_container(kwargs) if isinstance(kwargs, DictConfig) else dict(kwargs or {})
    build = load_function(fn, "model.fn")
    shape = tuple(input_shape)
    yours = called(
        lambda: call_with_kwargs(build, fn, "model.fn", mine, input_shape=shape, num_classes=num_classes),
        fn,
        "model.fn",
    )
    check_yours(yours, fn, shape, num_classes, output)
    inputs, x = image_input(input_shape, augmentation)
    outputs = yours(keras.ops.cast(x, "float32"))
    if outputs.dtype != "float32":  # a mixed trainer.precision: probabilities near 0 and 1 need float32
        outputs = keras.ops.cast(outputs, "float32")
    return keras.Model(inputs, outputs, name=yours.name)


def fine_tune(model: keras.Model) -> None:
    """Every layer learns, BatchNormalization's excepted (keras-io's fine-tuning recipe): a frozen
    BatchNorm runs in inference mode, so the statistics the backbone was trained with are not
    thrown off by the first small batches of new images, which would undo what the frozen stage
    learnt. Outer layers first: unfreezing a nested model unfreezes everything inside it."""
    stack = [model]
    while stack:
        layer = stack.pop()
        layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
        stack += getattr(layer, "layers", [])
