"""What Hydra and OmegaConf refuse as a config is composed (an unknown key, option or parameter,
a value of the wrong type, a missing one), as ``errors.explain``'s one line: the key, and the
nearest valid key, option or value, or where the key lives (``keys``). Also how a config value
is written back as an override (``as_override``), for messages that give one to paste."""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Mapping, Sequence
from enum import Enum

from hydra.errors import MissingConfigException
from omegaconf import DictConfig
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    InterpolationKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

from runner.errors import RunnerError
from runner.keys import elsewhere, known_choice
from runner.words import closest


def missing_option(err: MissingConfigException) -> str:
    """A group's option that does not exist (``aug=flpi``): the options there are, the nearest."""
    # Hydra reports e.g. missing_cfg_file='aug/flpi' and options=['flip', 'none'].
    group, _, choice = (err.missing_cfg_file or "").rpartition("/")
    options = sorted(o for o in (err.options or []) if o != "schema")
    if not group:
        return str(err).splitlines()[0]
    # Hydra's own groups get options from plugins; the one the runner uses is an extra.
    plugin = ' The Optuna sweeper comes with: pip install -e ".[sweep]".' if choice == "optuna" else ""
    suggestion = closest(choice, options)
    if group == "model" and not suggestion:  # model=resnet50: a backbone is an option's value
        suggestion = " A keras.applications backbone is model=application model.name=ITS_CLASS"
        suggestion += " (e.g. ResNet50)."
    return (
        f"{group}={choice}: no such option in config group '{group}'. "
        f"Valid options: {', '.join(options)}.{suggestion}{plugin}"
    )


def parameters(fn: object) -> list[str]:
    """The named parameters a config may set on ``fn`` (a class or function)."""
    return [p for p in inspect.signature(fn).parameters if p not in ("self", "args", "kwargs")]


# What ``fit`` passes every model builder itself (``fit.MODEL_ARGS``): no config key to suggest.
PASSED_TO_MODELS = ("input_shape", "num_classes", "augmentation", "output")


def no_such_parameter(key: str, target: str, params: list[str], moved: str = "") -> RunnerError:
    """``key`` (a full config key) names no parameter of ``target``: where it ``moved`` (the key it
    may mean elsewhere: ``keys.elsewhere``), else the closest, and the list."""
    name = key.rpartition(".")[2]
    settable = [param for param in params if param not in PASSED_TO_MODELS]
    suggestion = moved or closest(name, settable)
    return RunnerError(
        f"{key}: {target} has no parameter '{name}'.{suggestion} It takes: {', '.join(settable)}."
    )


def target_params(target: str) -> list[str]:
    """The parameters of the callable a ``_target_`` names ([] if it cannot be imported)."""
    module_name, _, name = target.rpartition(".")
    try:
        return parameters(getattr(importlib.import_module(module_name), name))
    except (ImportError, AttributeError, TypeError, ValueError):
        return []


def config_error(err: OmegaConfBaseException) -> str:
    key = err.full_key or err.key
    if key is None and isinstance(err, InterpolationKeyError):  # resolving Hydra's node alone
        return (
            f"{str(err).splitlines()[0]} in Hydra's settings: --cfg hydra --resolve resolves them "
            f"without the rest of the config, which they refer to. Use --cfg all --resolve."
        )
    parent = err.parent_node
    if isinstance(err, ConfigKeyError | ConfigAttributeError) and isinstance(parent, DictConfig):
        params = target_params(str(parent["_target_"])) if "_target_" in parent else []
        if str(err.key) in params:
            return f"{key}: not set in this config yet; add it with a '+': +{key}=..."
        moved = elsewhere(str(key), parent._get_root())  # the whole config, from OmegaConf's node
        if params:
            return str(no_such_parameter(str(key), str(parent["_target_"]), params, moved))
        valid = [str(k) for k in parent]
        if not valid:  # an open mapping (model.backbone, aug.ops): new keys take a '+'
            return f"{key}: not set in this config yet; add it with a '+': +{key}=..."
        suggestion = moved or closest(str(err.key), valid)
        return f"{key}: unknown key.{suggestion} Valid keys here: {', '.join(valid)}."
    if isinstance(err, MissingMandatoryValue):
        what, example = REQUIRED.get(str(key), ("", "..."))
        return f"{key}: needs a value{what}; set it on the command line, e.g. {key}={example}"
    if isinstance(err, ValidationError) and "is not a ListConfig" in str(err):
        if str(key).endswith("image_size"):  # a side: the square of it, [height, width]
            return f"{key}={err.value}: needs [height, width], in brackets: {key}=[{err.value},{err.value}]"
        return f"{key}={err.value}: needs a list, in brackets: {key}=[{err.value},...]"
    if isinstance(err, ValidationError):
        first = str(err).splitlines()[0].rstrip(".")
        wanted = next((says for words, says in WANTED.items() if words in first), None)
        if wanted:
            return f"{key}={as_typed(err.value)}: {wanted}{for_example(str(key), parent)}."
        options = first.partition("expected one of [")[2].rstrip("]").split(", ")
        suggestion = known_choice(str(err.value), options) or closest(str(err.value), options)
        return f"{key}={err.value}: {first}.{suggestion}"
    return f"{key}={err.value}: {str(err).splitlines()[0]}"


# The keys an option needs (the schemas' MISSING): what each is, and a value as one would write it.
REQUIRED = {
    "data.path": (", the folder with a subfolder of images per class", "~/pets"),
    "data.pattern": (", the image files (** for any folders deep)", "'photos/**/*.jpg'"),
    "data.fn": (", your function of (image, label) pairs", "mygen:samples"),
    "model.path": (", a saved Keras model", "outputs/DATE/TIME/checkpoints/best.keras"),
    "model.fn": (", your function that builds a Keras model", "mymodels:build"),
}
# OmegaConf's words for a value of the wrong type -> what its key takes.
WANTED = {
    "could not be converted to Integer": "must be a whole number",
    "could not be converted to Float": "must be a number",
    "is not a valid bool": "must be true or false",
    "is not Optional": "cannot be null",
}


def for_example(key: str, parent: object) -> str:
    """', e.g. KEY=VALUE' with the value the config had ('' for an item of a list: the list being
    built from the override holds no earlier value)."""
    name = key.rpartition(".")[2]
    if isinstance(parent, DictConfig) and parent.get(name) is not None:
        return f", e.g. {key}={as_typed(parent.get(name))}"
    return ""


def as_typed(value: object) -> str:
    """A config value as an override writes it, an enum's with the other choices."""
    if isinstance(value, Enum):
        choices = ", ".join(member.name for member in type(value))
        return f"{value.name} (one of {choices})"
    return as_override(value)


def as_override(value: object) -> str:
    """A value as an override spells it: ``null``, ``true``, an enum's name, ``[64,64]``."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, Mapping):
        return f"{{{','.join(f'{key}:{as_override(item)}' for key, item in value.items())}}}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return f"[{','.join(as_override(item) for item in value)}]"
    return str(value)


def missing_delete(key: str, overrides: Sequence[str]) -> str:
    """``~aug.ops.zooom``: Hydra fails before there is a config to compare with, so compose the
    config without that override and look at the keys next to the one named."""
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from runner.config import compose

    parent, _, name = key.rpartition(".")
    others = [
        o
        for o in overrides
        if ("=" in o or o.startswith("~")) and not (o.startswith("~") and o[1:].partition("=")[0] == key)
    ]
    GlobalHydra.instance().clear()  # the failed run's Hydra is still registered
    try:
        cfg = compose(others)
        node = OmegaConf.select(cfg, parent) if parent else cfg
    except Exception:  # noqa: BLE001 - another bad override: report this one without a suggestion
        node = None
    valid = [str(k) for k in node] if isinstance(node, DictConfig) else []
    listed = f" Keys here: {', '.join(valid)}." if valid else ""
    return f"~{key}: nothing to delete, '{key}' is not in the config.{closest(name, valid)}{listed}"
