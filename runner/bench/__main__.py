"""``python -m runner.bench DIR``: images/sec and peak memory of the runner's input pipeline against
Keras's own loaders, in one process, on the same files.

Loaders, in this fixed order: ``runner`` (the pipeline as ``data=dir`` builds it), ``ids``
(``keras.utils.image_dataset_from_directory`` + prefetch), ``manual`` (``Dataset.list_files`` +
parallel ``map(read, decode, resize)`` + batch + prefetch), ``idg`` (the legacy
``ImageDataGenerator.flow_from_directory``) and ``decode`` (parallel read + ``decode_jpeg``, no
resize: the ceiling). Once, before any loader: the files are read into the page cache and
TensorFlow is started. Each loader's first pass in the process is timed on its own
(``first_img_s``: it also pays the loader's one-time costs, as a training run's first epoch
does), then ``--passes`` rounds in which each loader in turn is built fresh and reads one epoch
(cold) and a second epoch from the same object (warm), so that a slow minute of a shared host
lands on every loader alike. Each epoch is read as ``fit`` reads it: the runner's dataset holds the epochs and
is read on from one iterator (``steps_per_epoch``), Keras's loaders open one per epoch. Figures
are medians; every pass is kept in the JSON so that noise shows. ``peak_rss_mb`` is the
process's peak resident memory during that loader's passes and ``added_rss_mb`` the most one of
its passes added to the memory in use as it began (other loaders' memory is not always given
back to the OS). A loader that fails on the files (Keras's loaders stop at the first corrupt
one) gets ``{"error": ...}``, and takes no more turns.
The process's malloc is set as a training run's is (``runner.memory``), for every loader alike.
The report starts with ``machine``: what the figures were measured on.

Also: ``--fit`` times ``model.fit`` epochs on the same small model with the runner's pipeline and
with ``image_dataset_from_directory``; ``--make N`` first writes N synthetic JPEG photos into DIR;
``--index-files N`` times indexing N (empty) files with header checks off.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from runner.bench.loaders import cache_sizes, fit_epochs, loaders
from runner.bench.measure import figures_or_error, index_scale, machine, measure_in_turns, warm_up
from runner.bench.photos import make_photos
from runner.cli import described, parsed, positive_int
from runner.memory import keep_freed_memory
from runner.words import closest, closest_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runner.bench", description=described(__doc__))
    parser.add_argument("dir", nargs="?", type=Path, help="a folder of class subfolders of JPEGs")
    parser.add_argument("--size", type=positive_int, default=224, help="target side in pixels")
    parser.add_argument("--batch", type=positive_int, default=32)
    parser.add_argument("--passes", type=positive_int, default=3, help="cold/warm rounds per loader (median)")
    parser.add_argument(
        "--loaders",
        default="runner,ids,manual,idg,decode",
        help="comma-separated, in this order; also runner_nocache (data.cache=none)",
    )
    parser.add_argument("--cache", action="store_true", help="also compare cache memory with ids().cache()")
    parser.add_argument("--fit", action="store_true", help="also time model.fit epochs (runner vs ids)")
    parser.add_argument(
        "--make", type=positive_int, metavar="N", help="first write N synthetic JPEGs into DIR"
    )
    parser.add_argument("--make-size", type=positive_int, nargs=2, default=(256, 256), metavar=("W", "H"))
    parser.add_argument(
        "--index-files", type=positive_int, metavar="N", help="only time indexing N empty files"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parsed(parser, argv)
    if args.index_files:
        print(json.dumps(index_scale(args.index_files)))
        return
    if args.dir is None:
        parser.error("DIR is required (or --index-files N)")
    if args.make:
        make_photos(args.dir, args.make, tuple(args.make_size))
    if not args.dir.is_dir():
        parser.error(
            f"DIR: '{args.dir}' is not a folder; give one of class subfolders, or --make N."
            f"{closest_path(args.dir)}"
        )
    keep_freed_memory()  # as a training run does; for every loader alike, all in this process
    with contextlib.redirect_stdout(sys.stderr):  # ImageDataGenerator prints "Found N images"
        made = loaders(args.dir, args.size, args.batch)
        unknown = [name for name in args.loaders.split(",") if name not in made]
        if unknown:
            parser.error(
                f"--loaders: unknown {', '.join(unknown)}; choose from {', '.join(made)}."
                f"{closest(unknown[0], list(made))}"
            )
        warm_up(args.dir, made["decode"])
        chosen = {name: made[name] for name in args.loaders.split(",")}
        results = {"machine": machine(), **measure_in_turns(chosen, args.passes)}
        if args.cache:
            results["cache"] = figures_or_error(cache_sizes, args.dir, args.size, args.batch)
        if args.fit:
            results["fit"] = figures_or_error(fit_epochs, args.dir, args.size, args.batch)
    if args.json:
        print(json.dumps(results))
        return
    for name, figures in results.items():
        print(f"{name:8s} {json.dumps(figures)}", file=sys.stdout)


if __name__ == "__main__":
    from runner.__main__ import reported, run_command

    run_command(reported, main, trains=False)  # Ctrl-C, SIGTERM: one line, as for the runner's other commands
