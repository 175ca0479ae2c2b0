"""``data=digits``, the embedded default: scikit-learn's 1,797 digits, written once as PNG class
folders and read through the real ``data=dir`` source, so the first run needs no download."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from runner import liveness
from runner.errors import RunnerError
from runner.schemas.data import DigitsData
from runner.sources.folders import DirSource
from runner.sources.index import FileIndex

log = logging.getLogger(__name__)
DIGITS = 1797  # images in scikit-learn's set


@dataclass
class DigitsSource(DirSource):
    """Writes scikit-learn's digits as PNG class folders on first use, then reads them as a dir."""

    path: str = DigitsData.path  # DirData's is a required value: DigitsSource() read a folder named '???'

    def index(self) -> FileIndex:
        write_digits(Path(self.path).expanduser().resolve(), self.path)
        return super().index()


def write_digits(root: Path, shown: str) -> None:
    """Write them once, into a folder of this process's own, renamed into place when complete: runs
    that start together (a parallel sweep) never read each other's half-written files. Only into a
    new or empty folder: ``data.path=~/pets`` without ``data=dir`` must not touch the pets."""
    if (root / ".complete").exists():
        if (found := present(root)) < DIGITS:  # a cache cleaner, or on purpose: said, not mended
            log.warning(
                "%s holds %s of the %s digits images written there, the others removed or emptied "
                "since: remove the folder to have them all written again",
                root,
                f"{found:,}",
                f"{DIGITS:,}",
            )
        return
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise RunnerError(
            f"data.path={shown}: data=digits writes scikit-learn's digits into data.path, and '{root}' "
            f"already holds other files. To train on the images there, use data=dir data.path={shown}; "
            f"for the digits, leave data.path unset or point it at a new folder."
        )
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    for stale in liveness.dead_partials(root.parent, root.name):  # of runs killed while writing
        shutil.rmtree(stale, ignore_errors=True)
    partial = liveness.partial(root.parent, root.name)
    try:
        for i, (image, target) in enumerate(zip(pixels, digits.target, strict=True)):
            (partial / str(target)).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(partial / str(target) / f"{i:04d}.png")
        (partial / ".complete").touch()
        partial.rename(root)  # onto nothing or an empty folder; fails onto another run's set
    except OSError as err:
        if not (root / ".complete").exists():
            raise RunnerError(
                f"data.path={shown}: cannot write scikit-learn's digits there ({err.strerror}: "
                f"{err.filename}). Point data.path at a folder you can write, e.g. "
                f"data.path=/tmp/digits (HOME={os.environ.get('HOME', '')} here)."
            ) from err
        return  # another run renamed its own (identical) set into place first
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    log.info("wrote %d digits images to %s", len(pixels), root)


def present(root: Path) -> int:
    """The digits images in ``root`` that are there and not empty."""
    return sum(1 for path in root.glob("[0-9]/[0-9]*.png") if path.stat().st_size)
