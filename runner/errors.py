"""One clear line for bad input, instead of a traceback.

``RunnerError`` is raised by the runner's own checks with a message that already names the file,
key or value and the fix. ``explain`` turns Hydra's and OmegaConf's composition errors (unknown
key, unknown option, wrong type) into the same kind of line, with the closest valid name.
"""

from __future__ import annotations

import errno
import importlib
import inspect
import json
import re
import traceback
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path

from hydra.errors import (
    ConfigCompositionException,
    InstantiationException,
    MissingConfigException,
    OverrideParseException,
)
from omegaconf import DictConfig
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    InterpolationKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

from runner.keys import elsewhere, known_choice
from runner.words import closest


class RunnerError(Exception):
    """Bad input from the user: the message is the whole report."""


def _missing_option(err: MissingConfigException) -> str:
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


def _config_error(err: OmegaConfBaseException) -> str:
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
        return f"{key}: needs a value; set it on the command line, e.g. {key}=..."
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


def _missing_delete(key: str, overrides: Sequence[str]) -> str:
    """``~aug.ops.zooom``: Hydra fails before there is a config to compare with, so compose the
    config without that override and look at the keys next to the one named."""
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from runner.config import compose

    parent, _, name = key.rpartition(".")
    others = [o for o in overrides if not (o.startswith("~") and o[1:].partition("=")[0] == key)]
    GlobalHydra.instance().clear()  # the failed run's Hydra is still registered
    try:
        cfg = compose(others)
        node = OmegaConf.select(cfg, parent) if parent else cfg
    except Exception:  # noqa: BLE001 - another bad override: report this one without a suggestion
        node = None
    valid = [str(k) for k in node] if isinstance(node, DictConfig) else []
    listed = f" Keys here: {', '.join(valid)}." if valid else ""
    return f"~{key}: nothing to delete, '{key}' is not in the config.{closest(name, valid)}{listed}"


def _output_folder(err: OSError) -> str | None:
    """Hydra (or its sweeper plugin) failing to make the run's or the sweep's output folder: the
    deepest frame outside ``pathlib`` is Hydra's."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename).name != "pathlib.py"]
    if (
        err.filename is None
        or not frames
        or not {"hydra", "hydra_plugins"} & set(Path(frames[-1].filename).parts)
    ):
        return None
    key = "hydra.run.dir" if frames[-1].name == "run_job" else "hydra.sweep.dir"
    # A relative folder fails in the working directory (read-only in some containers): a full path.
    example = "outputs/run1" if Path(err.filename).is_absolute() else "/tmp/runner/outputs"
    return (
        f"{key}: cannot make the output folder '{err.filename}' ({err.strerror}). "
        f"Point {key} at a folder you can write, e.g. {key}={example}."
    )


def explain(err: BaseException, overrides: Sequence[str] = ()) -> str | None:
    """A one-line report for a bad-input error, or None for a genuine bug (keep its traceback).

    ``overrides`` are the command line's, for errors Hydra raises before composing a config."""
    if isinstance(err, InstantiationException) and isinstance(err.__cause__, RunnerError):
        err = err.__cause__  # a schema's own check, raised while Hydra built the object
    if isinstance(err, RunnerError):
        return str(err)
    if isinstance(err, MissingConfigException):
        return _missing_option(err)
    if isinstance(err, OverrideParseException):
        return (
            f"cannot parse the override '{err.override}'. Quote a value with special "
            f"characters, e.g. 'data.label_regex=\"^(\\w+)_\"'."
        )
    cause = err.__cause__ if isinstance(err, ConfigCompositionException) else err
    if isinstance(cause, OmegaConfBaseException):
        return _config_error(cause)
    deleted = re.match(r"Could not delete from config\. '(.+)' does not exist", str(err))
    if isinstance(err, ConfigCompositionException) and deleted:
        return _missing_delete(deleted[1], overrides)
    if isinstance(err, InstantiationException) and isinstance(err.__cause__, Exception):
        return _refused_by_target(err)
    if isinstance(err, ConfigCompositionException | InstantiationException):
        return " ".join(str(err).split())
    if full := _disk_full(err):
        return full
    if refused := refused_by_server(str(err)):
        return f"tracking.uri: {refused}"
    if isinstance(err, RuntimeError) and str(err) == "Could not determine home directory.":  # pathlib's
        return (
            "this process has no home folder: HOME is not set, and its user has no entry in "
            "/etc/passwd (a container run as --user N). MLflow needs one, and so do paths under '~' "
            "(data.path and data.cache_dir default to ~/.cache/runner). Set one: HOME=/tmp python -m ..."
        )
    if isinstance(err, OSError):
        return _output_folder(err)
    return None


def _refused_by_target(err: InstantiationException) -> str:
    """'KEY (Class): what it said' for an object that refused its arguments as it was built (a
    layer's value out of range, a model its input): Hydra's words are the target's full module
    path and the repr of its error, and Keras's carry terminal colour codes and call details."""
    target = re.search(r"target '([^']+)'", str(err))
    key = re.search(r"full_key: (\S+)", str(err))
    name = target[1].rpartition(".")[2] if target else type(err.__cause__).__name__
    return f"{key[1] if key else 'config'} ({name}): {keras_said(err.__cause__)}"


def keras_said(err: BaseException) -> str:
    """What a Keras error says, on one line: less its terminal colour codes and call details, and
    a TensorFlow op's own prefix and suffix ('{{function_node ...}}', '[Op:RGBToHSV] name:')."""
    said = re.sub(r"\x1b\[[0-9;]*m|\{\{function_node [^}]*\}\}\s*|\s*\[Op:[^\]]*\]( name:\s*)?", "", str(err))
    details = ("Exception encountered when calling", "Arguments received by", " ")
    lines = [line.strip() for line in said.splitlines() if line.strip() and not line.startswith(details)]
    return " ".join(lines) or type(err).__name__


def refused_by_server(said: str) -> str | None:
    """What an MLflow server's HTTP error means, from MLflow's words for it ("API request to
    endpoint /api/2.0/... failed with error code 401 != 200. Response body: ...")."""
    found = re.search(r"API request to endpoint (\S+) failed with error code (\d+)", said)
    if not found:
        return None
    endpoint, code = found.groups()
    if code == "401":
        return (
            f"the MLflow server wants credentials (HTTP 401 for {endpoint}). Set "
            f"MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN, in the "
            f"environment, as its admin gave them."
        )
    if code == "403":
        return (
            f"the MLflow server does not let these credentials do this (HTTP 403 for {endpoint}). "
            f"Ask its admin for access to the experiment, or check MLFLOW_TRACKING_USERNAME."
        )
    return f"the MLflow server failed (HTTP {code} for {endpoint}); its own log says why."


def _disk_full(err: BaseException) -> str | None:
    """A disk that filled up while the run wrote its checkpoints, its log, its artifacts (a local
    store's ``mlruns/``) or sqlite's ``mlflow.db``: each names another setting that moves it."""
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" for {err.filename2 or err.filename}" if err.filename else ""
    elif "database or disk is full" in str(err):
        where = " for the MLflow store (tracking.uri)"
    else:
        return None
    return (
        f"the disk is full: no space left{where}. Free some, or write elsewhere: hydra.run.dir "
        f"(checkpoints and log), tracking.uri (MLflow's store; artifacts beside a sqlite one), "
        f"data.cache_dir (a disk cache)."
    )
