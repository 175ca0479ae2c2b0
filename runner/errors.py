"""One clear line for bad input, instead of a traceback.

``RunnerError`` is raised by the runner's own checks with a message that already names the file,
key or value and the fix. ``explain`` turns Hydra's and OmegaConf's composition errors (unknown
key, unknown option, wrong type: ``config_errors``), what a built object refused, a full disk, an
MLflow server's refusal and an output folder that cannot be made into the same kind of line.
"""

from __future__ import annotations

import errno
import re
import traceback
from collections.abc import Sequence
from pathlib import Path

from hydra.errors import (
    ConfigCompositionException,
    InstantiationException,
    MissingConfigException,
    OverrideParseException,
)
from omegaconf.errors import OmegaConfBaseException

from runner.words import is_plain


class RunnerError(Exception):
    """Bad input from the user: the message is the whole report."""


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
    # Imported here: config_errors raises this module's RunnerError.
    from runner.config_errors import config_error, missing_delete, missing_option

    if isinstance(err, InstantiationException) and isinstance(err.__cause__, RunnerError):
        err = err.__cause__  # a schema's own check, raised while Hydra built the object
    if isinstance(err, RunnerError):
        return str(err)
    if isinstance(err, MissingConfigException):
        return missing_option(err)
    if said := _override_form(err, overrides):
        return said
    cause = err.__cause__ if isinstance(err, ConfigCompositionException) else err
    if isinstance(cause, OmegaConfBaseException):
        return config_error(cause)
    deleted = re.match(r"Could not delete from config\. '(.+)' does not exist", str(err))
    if isinstance(err, ConfigCompositionException) and deleted:
        return missing_delete(deleted[1], overrides)
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


def _override_form(err: BaseException, overrides: Sequence[str] = ()) -> str | None:
    """Hydra's refusals of how an override is written, with the override meant where it is clear:
    a list in parentheses, a value with spaces or parentheses (a folder's name) unquoted, or split
    in two by the shell at a space, a comma list outside a sweep (``data.image_size=224,224``)."""
    if isinstance(err, OverrideParseException):
        key, equals, value = err.override.partition("=")
        if split := split_at_spaces(err.override, overrides):  # data.path=My Photos, unquoted
            fix = f"Quote the whole, and the value in it: {quoted_override(*split[1:])}"
            if equals:  # Hydra stopped at the override's first piece ('data.class_names=[golden')
                return f"{err.override}: the shell split this override at a space. {fix}"
            return (
                f"'{err.override}' is no override (KEY=VALUE): the shell split it from '{split[0]}' at "
                f"a space. {fix}"
            )
        if value.startswith("(") and value.endswith(")"):
            return f"{err.override}: a list is written in brackets: {key}=[{value[1:-1]}]."
        if equals and "'" not in value and '"' not in value:
            return (
                f"{err.override}: Hydra cannot read the value as written (spaces, parentheses and "
                f"some other characters need quotes): {quoted_override(key, value)}"
            )
        return (
            f"cannot parse the override '{err.override}'. Quote a value with special "
            f"characters, e.g. 'data.label_regex=\"^(\\w+)_\"'."
        )
    ambiguous = re.match(r"Ambiguous value for argument '([^=]+)=(.*)'", str(err))
    if not (isinstance(err, ConfigCompositionException) and ambiguous):
        return None
    key, value = ambiguous.groups()
    return (
        f"{key}={value}: a comma list sweeps, and this command runs once. For a list, use "
        f"brackets: {key}=[{value}]; for one run per value, add -m; for text with commas, quote it: "
        f"{key}='{value}'."
    )


def split_at_spaces(word: str, args: Sequence[str]) -> tuple[str, str, str] | None:
    """For a ``word`` of the command line, the override that the shell split at spaces into it and
    the words after it (``data.path=My Photos/pets``): (that override's first piece, its key, the
    whole value); None if nothing was split."""
    args = list(args)
    if word not in args:
        return None

    def piece(arg: str) -> bool:  # of a value: no override, no option, nothing quoted
        return "=" not in arg and not arg.strip().startswith("-") and not {"'", '"'} & set(arg)

    start = args.index(word)
    while start > 0 and piece(args[start]):
        start -= 1
    end = start + 1
    while end < len(args) and piece(args[end]):
        end += 1
    key, equals, value = args[start].partition("=")
    if end == start + 1 or not equals or key.startswith("-") or {"'", '"'} & set(value):
        return None
    return args[start], key, " ".join([value, *args[start + 1 : end]])


def quoted_override(key: str, value: str) -> str:
    """``'data.path="My Photos (2024)"'``: the value (a list's each item) in Hydra's quotes, the
    whole in the shell's; for a value with no quotes of its own, as Hydra refused it."""

    def quoted(item: str) -> str:
        return item if is_plain(item) else f'"{item}"'

    if value.startswith("[") and value.endswith("]"):  # a list's items, not the list, are strings
        return f"'{key}=[{','.join(quoted(item.strip()) for item in value[1:-1].split(','))}]'"
    return f"""'{key}="{value}"'"""


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
