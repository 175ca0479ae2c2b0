"""``python -m runner.check [--out FOLDER] [overrides]``: the data check of a run, without the run.

Before hours of training on a folder you have not looked at: which files the runner would skip
and why, byte-identical copies, how many images each class has in each split. It does what a run
does before ``fit`` (index the source, decode every file into the cache, split) with the same
overrides, and writes the same files a run logs under ``data/`` to ``--out``. With
``data.cache=disk`` the cache it fills is the one the run then reads.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from runner.cli import described, options_then_overrides
from runner.split import imbalance
from runner.words import counted, shell_join

if TYPE_CHECKING:
    from runner.prepare import Prepared


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runner.check", description=described(__doc__))
    parser.add_argument("--out", default="data_check", help="folder for split.csv, skipped.csv, ... ")
    args, overrides = options_then_overrides(parser, argv)
    from runner.__main__ import expand_home, reported

    said = logging.StreamHandler()  # the runner's warnings, as its other lines: "runner: ..."
    said.setFormatter(logging.Formatter("runner: %(message)s"))
    logging.getLogger("runner").addHandler(said)
    reported(check, Path(args.out), expand_home(overrides), trains=False)


def check(out: Path, overrides: list[str]) -> None:
    from runner import record
    from runner.checks import check_labels
    from runner.config import compose
    from runner.prepare import prepare
    from runner.sources import index_of

    cfg = compose(overrides)
    index = index_of(cfg.data)
    check_labels(cfg, index)  # what a run would refuse in these labels
    data = prepare(cfg.data, index, cfg.trainer.seed, tensorflow=False)  # as a run, less TensorFlow
    counts = record.write_data(data, out)
    print(report(data, counts, out, overrides, weighted=cfg.trainer.class_weight is not None))


def report(data: Prepared, counts: dict[str, int], out: Path, overrides: list[str], weighted: bool) -> str:
    """Per class and split (a regression's numbers per split), then what to look at: skipped
    files, copies, imbalance (unless ``weighted``: trainer.class_weight is set)."""
    from runner.record import NUMBER_COLUMNS, class_counts, number_summary

    index = data.index
    parts = data.parts
    if index.numbers is None:
        all_parts = ["all", *(counts[f"data.count.{p}"] for p in parts)]
        lines = aligned(["class", *parts], [*class_counts(data, parts), all_parts])
        found = f"in {len(index.class_names)} classes"
    else:
        lines = aligned(NUMBER_COLUMNS, number_summary(data, parts))
        found = f"with numbers from {index.numbers.min():.7g} to {index.numbers.max():.7g}"
    copies = counted(
        counts["data.count.duplicates"], "byte-identical extra copy", "byte-identical extra copies"
    )
    lines.append(
        f"{len(index)} images {found}; {counts['data.count.skipped']} skipped, {copies}; written to {out}/"
    )
    lines.append(sizes(index, data.input_shape))
    if not weighted and (said := imbalance(index, data.split)):
        lines.append(said)
    lines.append(f"train on them: {shell_join(['python', '-m', 'runner', *overrides])}")
    return "\n".join(lines)


def aligned(header: list[str], rows: list[list]) -> list[str]:
    """A table's lines: the first column left-aligned to its longest entry, the others right."""
    width = max(len(str(row[0])) for row in [header, *rows])
    rest = max(6, *(len(str(value)) for row in [header, *rows] for value in row[1:]))
    return [
        f"{row[0]!s:<{width}}  " + "  ".join(f"{value!s:>{rest}}" for value in row[1:])
        for row in [header, *rows]
    ]


def sizes(index: Any, shape: tuple[int, int, int]) -> str:
    """The images' own sizes (height x width; from their headers) against ``data.image_size``:
    what the resize does to them, to choose that size by."""
    from runner.sources.verify import header_size

    if index.arrays is not None:
        found = [array.shape[:2] for array in index.arrays]
    else:  # unreadable files are in the index only with data.verify=none and data.cache=none
        found = [size for size in map(header_size, index.paths) if size]
    if not found:
        return f"image sizes: no header readable; data.image_size={list(shape[:2])}"
    heights, widths = np.array(found).T
    median = f"{int(np.median(heights))}×{int(np.median(widths))}"
    return (
        f"image sizes (height×width): median {median}, heights {heights.min()}–{heights.max()}, "
        f"widths {widths.min()}–{widths.max()}; data.image_size={list(shape[:2])}"
    )


if __name__ == "__main__":
    from runner.__main__ import run_command

    run_command(main)
