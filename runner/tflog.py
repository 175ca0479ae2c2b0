"""TensorFlow's start-up lines, held to ``TF_CPP_MIN_LOG_LEVEL`` as TensorFlow means them to be.

On a CPU with AVX-512 (Intel Xeons since Skylake, AMD since Zen 4), importing TensorFlow prints
"oneDNN custom operations are on" twice, each after absl's "All log messages before
absl::InitializeLog() is called are written to STDERR": absl writes whatever is logged before it
is initialised, whatever the level asked for (abseil-cpp#1718, still open). So the first
``import tensorflow`` of a process that imported the runner runs with its stderr (the file
descriptor: the lines come from C++) caught, and what it wrote is written back less the lines
``TF_CPP_MIN_LOG_LEVEL`` (1 unless you set it) leaves out.

One line comes later, from a multi-label run's first epoch: ``EIGEN_FALLBACK`` (``quiet_eigen_fallback``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from types import ModuleType

ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# absl's line prefix: severity, date (0000 before initialisation), time, thread, file:line]
ABSL_LINE = re.compile(r"([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] ")
LEVEL = {"I": 0, "W": 1, "E": 2, "F": 3}
# Said by TensorFlow's oneDNN graph rewrite at ERROR, once per process, for the first op whose type
# oneDNN lacks ("oneDNN supports DT_BOOL only on platforms with AVX-512. Falling back to the default
# Eigen-based implementation"; DT_INT32 as often: Keras's multi-label AUC transposes both), on any
# CPU, AVX-512 or not. Eigen's op, which TensorFlow runs instead, gives the same result.
EIGEN_FALLBACK = "only on platforms with AVX-512. Falling back to the default Eigen-based implementation"
# Said by TensorFlow's LiteRT converter, at WARNING, of settings the Keras export never made.
CONVERTER_NOTES = ("] Ignored output_format.", "] Ignored drop_control_dependency.")


def kept(text: str, min_level: int, dropped: tuple[str, ...] = ()) -> str:
    """``text`` less absl's notice, its lines below ``min_level`` and those holding one of
    ``dropped`` (a line's continuation goes with it: oneDNN's messages have none, but a warning may)."""
    lines, dropping = [], False
    for line in text.splitlines(keepends=True):
        if line.rstrip("\n") == ABSL_NOTICE:
            dropping = min_level > 0
        elif absl := ABSL_LINE.match(line):
            dropping = LEVEL[absl.group(1)] < min_level or any(said in line for said in dropped)
        if not dropping:
            lines.append(line)
    return "".join(lines)


@contextlib.contextmanager
def filtered_stderr(min_level: int, dropped: tuple[str, ...] = ()) -> Iterator[None]:
    """File descriptor 2 caught meanwhile; its text written back through ``kept`` after, error or not."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (a daemon's closed descriptor): nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as caught:
        flush()
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            text = kept(caught.read().decode(errors="replace"), min_level, dropped).encode()
            while text:
                text = text[os.write(2, text) :]


def flush() -> None:
    if sys.stderr is not None:  # None under pythonw
        sys.stderr.flush()


class QuietImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as the other finders do, and runs its module code in ``filtered_stderr``."""

    def find_spec(self, name: str, path: object, target: ModuleType | None = None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: later imports find it in sys.modules
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def quiet_exec_module(module: ModuleType) -> None:
            with filtered_stderr(asked_level()):
                exec_module(module)

        spec.loader.exec_module = quiet_exec_module
        return spec


def asked_level() -> int:
    """``TF_CPP_MIN_LOG_LEVEL`` as TensorFlow reads it (the runner sets 1 where you set none)."""
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")
    return int(level) if level.isdigit() else 0


@functools.cache  # TensorFlow says it once per process: a sweep's later jobs have nothing to catch
def quiet_eigen_fallback() -> None:
    """Has TensorFlow say ``EIGEN_FALLBACK`` (once per process) now, with stderr caught and the line
    left out, so that it is not said as an error between a run's first epoch line and its progress."""
    import tensorflow as tf  # imported already by whoever asks: the runner's start imports none

    with filtered_stderr(asked_level(), dropped=(EIGEN_FALLBACK,)):
        tf.function(tf.transpose)(tf.zeros((2, 2), tf.bool))  # 1 x 1: optimised away, nothing said


def install() -> None:
    """Before TensorFlow's first import in this process; nothing if it was imported already."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, QuietImport())
