"""Building what a config names, safely: a config may come back from a tracking server, so it is
data, not code. Only ``_target_``s under ALLOWED_TARGETS are imported, and only with keys they take.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable, Set
from typing import Any

from omegaconf import DictConfig, ListConfig

from runner.config_errors import no_such_parameter, parameters
from runner.errors import RunnerError
from runner.words import closest

# Prefixes of the only ``_target_``s the runner builds: its data sources, model builders and the
# ImageDataGenerator mapping; Keras's layers (augmentation), optimizers (with their schedules) and
# losses, of Keras classes only (``check``).
# Not ``keras.*``: ``keras.saving.load_model(..., safe_mode=False)`` or ``keras.utils.get_file``
# would load code, or fetch files, for whoever wrote a stored config.
ALLOWED_TARGETS = (
    "runner.sources.",
    "runner.models.",
    "runner.augment.",
    "keras.layers.",
    "keras.optimizers.",
    "keras.losses.",
)
# Layers that run Python code or load a graph from a file: no augmentation needs them.
REFUSED_TARGETS = ("keras.layers.Lambda", "keras.layers.TFSMLayer")


def check_targets(node: Any, where: str) -> None:
    """Refuse any ``_target_`` outside ALLOWED_TARGETS (or in REFUSED_TARGETS), anywhere under ``node``."""
    if isinstance(node, DictConfig | dict):
        target = node.get("_target_")
        if target is not None and str(target) in REFUSED_TARGETS:
            raise RunnerError(
                f"{where}._target_={target}: not allowed; it runs Python code or loads a graph from a "
                f"file, which a config (perhaps read back from a tracking server) must not make it do."
            )
        if target is not None and not str(target).startswith(ALLOWED_TARGETS):
            raise RunnerError(
                f"{where}._target_={target}: not allowed; the runner only builds "
                f"{' or '.join(p + '*' for p in ALLOWED_TARGETS)} objects."
            )
        for key, value in node.items():
            check_targets(value, f"{where}.{key}")
    elif isinstance(node, ListConfig | list):
        for i, value in enumerate(node):
            check_targets(value, f"{where}[{i}]")


def locate(target: str, where: str) -> Any:
    """The object ``target`` names, or an error naming the closest name its module has."""
    module_name, _, name = target.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise RunnerError(f"{where}._target_={target}: no module '{module_name}' ({err}).") from err
    if not hasattr(module, name):
        raise RunnerError(
            f"{where}._target_={target}: '{module_name}' has no '{name}'.{closest(name, dir(module))}"
        )
    return getattr(module, name)


def check(node: Any, where: str, given: Set[str] = frozenset()) -> None:
    """What ``build`` refuses, without building: an allowed target that exists, taking the keys
    given (``given``: those the runner passes). ``fit`` asks before the run starts, so a misspelt
    optimizer is a line, not a FAILED run."""
    check_targets(node, where)
    if "_target_" not in node:
        raise RunnerError(f"{where}: needs a _target_, e.g. {where}._target_=keras.layers.RandomFlip")
    target = locate(node._target_, where)
    if str(node._target_).startswith("keras.") and not inspect.isclass(target):
        # keras.layers.deserialize and the like build whatever a dict names (a TFSMLayer too).
        raise RunnerError(
            f"{where}._target_={node._target_}: not allowed; of Keras the runner builds classes "
            f"only (a layer, an optimizer, a loss), each named by its own _target_."
        )
    check_keys(node, target, where, given)


def build(node: Any, where: str, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` for allowed, importable targets only, with only keys the target
    takes (Keras's own message for an unknown one names neither the key nor what it takes)."""
    from hydra.utils import instantiate

    check(node, where, given=set(kwargs))
    return instantiate(node, **kwargs)


def accepted(fn: object) -> dict[str, inspect.Parameter]:
    """Every keyword ``fn`` takes: its parameters and, for a class whose ``__init__`` passes
    ``**kwargs`` on, its bases' (a Keras layer's ``name`` and ``dtype``, an optimizer's ``clipnorm``)."""
    if not inspect.isclass(fn):
        return named(inspect.signature(fn).parameters.values())
    found: dict[str, inspect.Parameter] = {}
    for cls in fn.__mro__:
        if "__init__" not in vars(cls):
            continue
        signature = inspect.signature(vars(cls)["__init__"]).parameters.values()
        found = named(signature) | found  # a subclass's own default first
        if not any(p.kind == p.VAR_KEYWORD for p in signature):
            break
    found.pop("self", None)
    return found


def named(signature: Iterable[inspect.Parameter]) -> dict[str, inspect.Parameter]:
    """The parameters a keyword can set (a parameter called ``kwargs`` too: ``model.kwargs``)."""
    return {p.name: p for p in signature if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def check_keys(node: DictConfig, target: Any, where: str, given: Set[str]) -> None:
    """Refuse a key ``target`` does not take, or leaving out one it needs (unless the runner
    passes it: ``given``), naming the key; Keras's own errors name neither."""
    takes = accepted(target)
    for key in node:
        if not str(key).startswith("_") and key not in takes and key not in given:
            raise no_such_parameter(f"{where}.{key}", node._target_, parameters(target))
        if key in takes and isinstance(takes[key].default, bool) and not isinstance(node[key], bool):
            # Python takes any value as a yes or no: use_ema=no would turn the average on.
            raise RunnerError(
                f"{where}.{key}={node[key]}: {node._target_} takes true or false here, "
                f"e.g. {where}.{key}={str(not takes[key].default).lower()}"
            )
    signature = inspect.signature(target).parameters.values()
    needed = [
        p.name
        for p in signature
        if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if "_args_" in node:  # Hydra's positional arguments: Python itself will name a missing one
        return
    if missing := [name for name in needed if name not in node and name not in given]:
        raise RunnerError(
            f"{where}: {node._target_} needs {', '.join(map(repr, missing))}; "
            f"set it with +{where}.{missing[0]}=..."
        )
