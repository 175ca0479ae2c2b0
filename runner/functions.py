"""A function of yours a config names as ``package.module:function`` (``data.fn``, ``model.fn``):
imported and called with its ``kwargs``, each mistake one line that names the key, and an error
your code raises one line naming where in it.

A stored config's function is code, not data: ``runner.rerun`` calls one only when its command
names it again (``rerun_checks.require_named_code``).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import site
import sysconfig
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from runner.config_errors import parameters
from runner.errors import RunnerError, keras_said
from runner.words import closest, function_form

T = TypeVar("T")


def load_function(spec: str, key: str) -> Callable:
    """'package.module:function' (the value of ``key``) -> the function, or a line that says what
    is wrong with it."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise RunnerError(function_form(key, spec, "my_data:samples"))
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise RunnerError(
            f"{key}={spec}: cannot import '{module_name}' ({err}).{nearest_module(module_name, err)}"
        ) from err
    if not callable(getattr(module, name, None)):
        raise RunnerError(
            f"{key}={spec}: '{module_name}' has no function '{name}'.{closest(name, dir(module))}"
        )
    return getattr(module, name)


def nearest_module(module_name: str, err: ImportError) -> str:
    """' Did you mean ...?' for a module of ``module_name`` that is not there, among those beside
    where it would be (the working directory's own ``my_data.py`` too: ``python -m`` puts it on
    the path); nothing for a module that its own imports failed in (their words say which)."""
    missing = err.name if isinstance(err, ModuleNotFoundError) else None
    if not missing or not f"{module_name}.".startswith(f"{missing}."):
        return ""
    parent, _, _ = missing.rpartition(".")
    try:
        where = importlib.import_module(parent).__path__ if parent else None
    except (ImportError, AttributeError):  # a parent that is not there, or a module, not a package
        return ""
    modules = [f"{parent}.{m.name}" if parent else m.name for m in pkgutil.iter_modules(where)]
    return closest(missing, modules, cutoff=0.75)  # among thousands, 0.5 finds 'random' for 'nomod'


def call_with_kwargs(fn: Callable, spec: str, key: str, kwargs: dict, **given: Any) -> Any:
    """``fn(**given, **kwargs)``, ``kwargs`` being the config's ``<group>.kwargs`` beside ``key``;
    arguments it does not take, or lacks, are said against its signature (the TypeError of the
    call would be a traceback through the runner)."""
    group = key.rpartition(".")[0]
    try:
        inspect.signature(fn).bind(**given, **kwargs)
    except ValueError:
        pass  # no signature to read (a builtin): the call says the rest
    except TypeError as err:
        takes = parameters(fn)
        listed = ", ".join(f"+{group}.kwargs.{name}" for name in kwargs) or "none"
        unknown = [name for name in (*given, *kwargs) if name not in takes]
        why = f"takes no '{unknown[0]}'.{closest(unknown[0], takes)}" if unknown else f"{err}."
        runner = f" (and {', '.join(given)} from the runner)" if given else ""
        raise RunnerError(
            f"{key}={spec}: {why} It takes ({', '.join(takes)}); given: {listed}{runner}. Give each "
            f"as +{group}.kwargs.NAME=VALUE."
        ) from err
    return fn(**given, **kwargs)


def called(make: Callable[[], T], spec: str, key: str) -> T:
    """``make()``, the call of your function; an error your code raises in it is one line naming
    where in your code (a file it reads gone, a layer it builds wrong), not a traceback through
    the runner."""
    try:
        return make()
    except RunnerError:  # the call's arguments, said against its signature already
        raise
    except Exception as err:  # noqa: BLE001 - whatever your code raises
        raise raised(err, spec, key) from err


def yielded(make: Callable[[], Iterable], spec: str, key: str) -> Iterator:
    """The elements of what ``make()`` returns, as they come: ``called``, for each one too."""
    iterator = called(lambda: iter(make()), spec, key)
    while True:
        try:
            element = next(iterator)
        except StopIteration:
            return
        except Exception as err:  # noqa: BLE001
            raise raised(err, spec, key) from err
        yield element


def raised(err: Exception, spec: str, key: str) -> RunnerError:
    """``err`` of your function ``spec`` (the value of ``key``), in one line."""
    return RunnerError(f"{key}={spec}: raised {type(err).__name__}: {keras_said(err)}{in_your_code(err)}")


def in_your_code(err: BaseException) -> str:
    """' (at mygen.py:17, in samples)': where ``err`` was raised in code of yours (the innermost
    frame outside the runner, the installed libraries and Python's own), or '' if nowhere."""
    installed = [*site.getsitepackages(), site.getusersitepackages(), sysconfig.get_paths()["stdlib"]]
    theirs = [Path(__file__).parent, *map(Path, installed)]
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        path = Path(frame.filename)
        if not frame.filename.startswith("<") and not any(path.is_relative_to(p) for p in theirs):
            return f" (at {path.name}:{frame.lineno}, in {frame.name})"
    return ""
