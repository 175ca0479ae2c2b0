"""``python -m runner.caches [--cache-dir DIR] [--unused-for DAYS] [--delete]``: the disk caches in
``data.cache_dir``, what each holds and when a run last used it; with ``--delete``, removing them
(and the partial caches of runs that died writing them).

A run never removes a disk cache: it cannot tell one whose files have since changed from another
data set's, which a later run may want again. Each cache is a ``<digest>.npy`` of uint8 images,
with its failures (``<digest>.failed.json``) and what it was made from (``<digest>.json``: the
folder its files share, the preprocessing, when it was written; none beside caches written before
this command); the ``.npy``'s modification time is the last time a run read it. A run that has a
removed cache open keeps reading it until it ends (the file goes once nothing has it open); the
next run on those files decodes them again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from runner import liveness
from runner.cli import described, parsed
from runner.errors import RunnerError
from runner.schemas.data import DataConfig
from runner.words import closest_path, counted

if TYPE_CHECKING:  # the listing needs no decoder (OpenCV, libjpeg-turbo) to start
    from runner.decode import Decoder

DAY = 86400.0


@dataclass(frozen=True)
class DiskCache:
    key: str
    files: tuple[Path, ...]  # the images, their failures and what they were made from
    nbytes: int
    last_used: float  # seconds since the epoch
    shape: tuple[int, ...]
    source: str  # the folder its files share; "" where the runner that wrote it did not say


def record_source(folder: Path, key: str, items: list[str], decoder: Decoder) -> None:
    """What a disk cache was made from, beside it: its files' common folder and preprocessing."""
    about = {"source": os.path.commonpath(items) if items else "", "preprocessing": asdict(decoder)}
    about["written"] = time.strftime("%Y-%m-%d %H:%M:%S")
    with contextlib.suppress(OSError):  # a note for the listing: no reason to fail a run
        (folder / f"{key}.json").write_text(json.dumps(about, default=lambda e: e.name, indent=1))


def mark_used(path: Path) -> None:
    """A run reads this cache now: it is not one to remove as unused. (A read-only shared folder
    keeps the time it has.)"""
    with contextlib.suppress(OSError):
        os.utime(path)


def disk_caches(folder: Path) -> list[DiskCache]:
    """The caches in ``folder``, least recently used first, with the partial ones whose writer, a
    process of this machine, died (as big as a whole one, and otherwise only removed by the next
    run that writes a cache there). One still being written is left out."""
    found = [
        DiskCache(
            path.name.split(".")[0],
            (path, path.with_suffix(".json")),
            path.stat().st_size,
            path.stat().st_mtime,
            shape_of(path),
            "(a partial cache: the run writing it died)",
        )
        for path in liveness.dead_partials(folder, suffix=".npy")
    ]
    for images in folder.glob("*.npy"):
        key = images.stem
        if not (folder / f"{key}.failed.json").exists():  # an array of someone else's
            continue
        about = folder / f"{key}.json"
        files = (images, folder / f"{key}.failed.json", *([about] if about.exists() else []))
        source = source_of(about) if about.exists() else ""
        nbytes = sum(f.stat().st_size for f in files)
        found.append(DiskCache(key, files, nbytes, images.stat().st_mtime, shape_of(images), source))
    return sorted(found, key=lambda c: c.last_used)


def source_of(about: Path) -> str:
    """The folder a cache's files share, from its ``<digest>.json`` ("" while another run that
    makes the same cache at this moment is still writing it)."""
    try:
        return json.loads(about.read_text()).get("source", "")
    except ValueError:
        return ""


def shape_of(images: Path) -> tuple[int, ...]:
    """The cache's (images, height, width, channels), from its header; () if it has none (a file
    cut short: listed, and removed like any other)."""
    try:
        return np.load(images, mmap_mode="r").shape
    except (ValueError, OSError):
        return ()


def line(entry: DiskCache, now: float) -> str:
    days = int((now - entry.last_used) // DAY)
    used = time.strftime("%Y-%m-%d", time.localtime(entry.last_used))
    ago = "today" if days == 0 else counted(days, "day") + " ago"
    holds = images_of(entry.shape) if entry.shape else "unreadable"
    source = entry.source or "(not recorded: written before runner.caches)"
    return f"  {entry.key}  {size(entry.nbytes):>8}  last used {used} ({ago})  {holds}  {source}"


def images_of(shape: tuple[int, ...]) -> str:
    """'1,797 images of 224×224×3'."""
    return f"{shape[0]:,} images of {'×'.join(map(str, shape[1:]))}"


def size(nbytes: int) -> str:
    return f"{nbytes / 1e9:.1f} GB" if nbytes >= 1e8 else f"{nbytes / 1e6:.1f} MB"


def days(text: str) -> int:
    """``--unused-for``: a whole number of days (``30``, or ``30d`` as other tools write it)."""
    if not text.removesuffix("d").isdigit():
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of days, 0 or more (0: every cache)")
    return int(text.removesuffix("d"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runner.caches", description=described(__doc__))
    parser.add_argument(
        "--cache-dir", default=DataConfig.cache_dir, metavar="DIR", help="the runs' data.cache_dir"
    )
    parser.add_argument(
        "--unused-for", type=days, default=0, metavar="DAYS", help="only caches no run read for DAYS days"
    )
    parser.add_argument("--delete", action="store_true", help="remove the caches listed")
    args = parsed(parser, argv)
    from runner.__main__ import reported

    reported(report, Path(args.cache_dir).expanduser(), args, argv, trains=False)


def report(folder: Path, args: argparse.Namespace, argv: list[str] | None) -> None:
    """The listing, and with ``--delete`` the removal, of ``folder``'s caches. A ``--cache-dir``
    that does not exist is likelier a typo than a folder with no cache: refused, with the nearest."""
    if args.cache_dir != DataConfig.cache_dir and not folder.is_dir():
        raise RunnerError(f"--cache-dir {args.cache_dir}: no such folder.{closest_path(folder)}")
    now = time.time()
    chosen = [c for c in disk_caches(folder) if now - c.last_used >= args.unused_for * DAY]
    which = f" unused for {counted(args.unused_for, 'day')}" if args.unused_for else ""
    total = size(sum(c.nbytes for c in chosen))
    print(f"runner: {counted(len(chosen), 'disk cache')}{which} in {folder}: {total}")
    for entry in chosen:
        print(line(entry, now))
    if not chosen:
        return
    if args.delete:
        for entry in chosen:
            for path in entry.files:
                try:
                    path.unlink(missing_ok=True)
                except OSError as err:
                    raise RunnerError(
                        f"cannot remove {path} ({err.strerror}). Remove it as its owner."
                    ) from err
        print(f"runner: removed {counted(len(chosen), 'disk cache')}: {total}")
    else:
        given = [arg for arg in (argv if argv is not None else sys.argv[1:]) if arg != "--delete"]
        print(f"remove them: python -m runner.caches {' '.join([*given, '--delete'])}")


if __name__ == "__main__":
    from runner.__main__ import run_command

    run_command(main)
