"""The code a run ran and the machine it ran on, recorded as its tags: the library versions and,
from a checkout, its git commit and uncommitted diff (what a rerun must match); the kind of CPU,
which picks TensorFlow's kernels (what can move its metrics' last digits).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from runner.config import CHECKOUT
from runner.cpus import model_and_flags


def provenance(checkout: Path | None = CHECKOUT) -> tuple[dict[str, str], str]:
    """Library versions and, run from a checkout, its git commit: what a rerun must match. Also
    the checkout's uncommitted changes (``git diff HEAD``, '' if none): a '-dirty' commit alone
    cannot be rebuilt, that commit with this diff applied can."""
    versions = installed_versions(("runner", "tensorflow-cpu", "keras", "mlflow", "hydra-core"))
    found = {"runner.versions": json.dumps(versions)}
    if checkout is None:  # an installed wheel: its version is the record (a git call here would
        return found, ""  # find whatever repository the environment happens to sit in)
    try:
        git = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True
        )
    except OSError:  # no git on this machine (a slim container): the versions are the record
        return found, ""
    if git.returncode != 0:  # not a repository (a downloaded archive)
        return found, ""
    diff = subprocess.run(
        ["git", "-C", str(checkout), "diff", "HEAD", "--binary"], capture_output=True, text=True
    ).stdout
    found["runner.git_commit"] = git.stdout.strip() + ("-dirty" if diff else "")
    return found, diff


# The vector extensions TensorFlow's CPU kernels (Eigen's and oneDNN's) choose their code by: runs
# on CPUs that differ in these sum in other orders, so their metrics differ in the last digits.
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")


def cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """This machine's kind of CPU, as far as the results of the same code can depend on it: its
    model, those of ``KERNEL_FLAGS`` it has, and ``TF_ENABLE_ONEDNN_OPTS`` when set (oneDNN on or
    off)."""
    model, flags = model_and_flags(cpuinfo)
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    has = " ".join(flag for flag in KERNEL_FLAGS if flag in flags) or "no avx2"
    return f"{model} ({has})" + (f", TF_ENABLE_ONEDNN_OPTS={onednn}" if onednn else "")


def installed_versions(names: Iterable[str]) -> dict[str, str]:
    """Name -> version of each of ``names`` installed in this environment."""
    found = {}
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found
