"""``python -m runner.predict RUN_ID PATH...``: a past run's model on image files, preprocessed
exactly as that run's training images were.

The runner decodes with libjpeg-turbo's DCT-domain downscaling and OpenCV's resize
(``decode.Decoder``), which is not pixel-for-pixel what ``keras.utils.load_img`` + a Keras resize
give; a model fed other pixels at inference than in training can lose accuracy for no visible
reason. So this reads the run's own ``data`` config (image size, colour mode, interpolation,
crop/pad) from MLflow and decodes each file with the same ``Decoder``, then runs the run's logged
model, or with ``--best`` its ``checkpoints/best.keras``, loaded with Keras's ``safe_mode``. It
prints ``path,class,probability`` CSV lines (for a ``data.label_mode=multi_hot`` run, a line per
class at ``THRESHOLD`` or more, or one with no class; for a ``regression`` run, ``path,value``); a
file that cannot be decoded gets one line on stderr and the rest go on.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from runner.calibration import scaled
from runner.cli import RUN_HELP, add_model_options, parsed, positive_int
from runner.errors import RunnerError
from runner.scores import THRESHOLD
from runner.sources.filetypes import of_run
from runner.sources.given import image_files
from runner.trained import (
    a_number_each,
    decoder_of,
    flips,
    load,
    run_of,
    run_record,
    several_per_image,
    temperature,
    tuned,
)


def scores_of(model: Any, images: np.ndarray, step: int = 32) -> np.ndarray:
    """The model's outputs for ``images``, ``step`` at a time (as ``model.predict`` steps, so each
    takes the memory it did) by ``predict_on_batch``: ``predict`` sets up a data adapter and its
    callbacks per call, which for a small model took longer than the model (small_cnn at 64², 256
    images: 88 against 51 ms; MobileNetV2 at 160²: 654 against 612 ms)."""
    return np.concatenate(
        [np.asarray(model.predict_on_batch(images[i : i + step])) for i in range(0, len(images), step)]
    )


def outputs(
    model: Any,
    decoder: Any,
    files: list[str],
    batch: int,
    skipped: list[tuple[str, str]] | None = None,
    tta: Sequence[str] = (),
) -> Iterator[tuple[str, np.ndarray]]:
    """(path, the model's outputs) for each file that decodes (with ``tta``, the mirrorings the
    run trained on: the mean over the image and its mirror images, ``views``); each one that does
    not is reported on stderr, once, added to ``skipped`` (path, reason) and left out."""
    from runner.fill import decode_batch

    for start in range(0, len(files), batch):
        chunk = files[start : start + batch]
        images, good, bad = decode_batch(chunk, decoder, threads=True)
        for i, reason in bad.items():
            print(f"runner: skipped {chunk[i]}: {reason}", file=sys.stderr)
            if skipped is not None:
                skipped.append((chunk[i], reason))
        if good:
            shown = list(views(images, tta))
            scores = sum(scores_of(model, view) for view in shown) / len(shown)
            yield from zip([chunk[i] for i in good], scores, strict=True)


def views(images: np.ndarray, mirrorings: Sequence[str]) -> Iterator[np.ndarray]:
    """``images`` (images, height, width, channels), then mirrored along each of ``mirrorings``
    ("horizontal": the width reversed, "vertical": the height) and, with both, along both."""
    axes = [{"vertical": 1, "horizontal": 2}[mirroring] for mirroring in mirrorings]
    for count in range(len(axes) + 1):
        for chosen in itertools.combinations(axes, count):
            yield np.ascontiguousarray(np.flip(images, chosen)) if chosen else images


def predictions(
    model: Any,
    class_names: list[str],
    decoder: Any,
    files: list[str],
    batch: int,
    top: int | None = 1,
    skipped: list[tuple[str, str]] | None = None,
    thresholds: np.ndarray | float = THRESHOLD,
    tta: Sequence[str] = (),
    temperature: float = 1.0,
) -> Iterator[tuple[str, str, float | None]]:
    """(path, class, probability) for the ``top`` likeliest classes of each file that decodes, most
    likely first (``top`` None: a multi-label model's classes at their ``thresholds`` or more, or
    (path, '', None) for none); the others as ``outputs`` leaves them out."""
    for path, row in outputs(model, decoder, files, batch, skipped, tta):
        if len(row) == 1:  # binary: one sigmoid unit, the probability of the second class
            row = np.concatenate([1 - row, row])
        if temperature != 1.0:  # one class per image: its softmax (or sigmoid) at the temperature
            row = scaled(row[None], temperature)[0]
        ranked = np.argsort(-row, kind="stable")
        cut = np.broadcast_to(thresholds, row.shape)
        chosen = ranked[:top] if top else [k for k in ranked if row[k] >= cut[k]]
        for k in chosen:
            yield path, class_names[int(k)], float(row[k])
        if not len(chosen):
            yield path, "", None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m runner.predict",
        description="Classify image files (or predict their numbers) with a past run's model, decoded as "
        "its training images were.",
    )
    parser.add_argument(
        "run_id",
        metavar="RUN",
        help=RUN_HELP,
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="image files, folders of them, or a quoted pattern (photos/**/*.jpg)",
    )
    add_model_options(parser)
    parser.add_argument(
        "--top",
        type=positive_int,
        help="rows per file: its K likeliest classes, likeliest first (default: 1; for a multi-label "
        f"run, each class at {THRESHOLD} or more)",
    )
    args = parsed(parser, argv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from runner import __main__ as entry
    from runner.memory import keep_freed_memory
    from runner.stored import client

    keep_freed_memory()  # each batch's decoded images and activations reuse memory: no page faults

    def run() -> None:
        store = client(args.tracking_uri, "--tracking-uri")
        run, stored, class_names = run_record(store, run_of(store, args.run_id))
        files = image_files(args.paths, of_run(stored["data"]), stored["data"].get("follow_links", False))
        numbers = a_number_each(stored["data"])
        if args.tuned and args.top:
            raise RunnerError(
                "--tuned: picks each class's yes by its own threshold, and --top the K likeliest: "
                "give one of them."
            )
        cut = tuned(store, run.info.run_id, class_names, stored["data"]) if args.tuned else THRESHOLD
        mirrored = flips(run.info.run_id, stored) if args.tta else ()
        heat = temperature(run, stored["data"]) if args.calibrated else 1.0
        if numbers and args.top:
            raise RunnerError(
                f"--top {args.top}: ranks classes, and run {run.info.run_id} predicts a number per "
                f"image (data.label_mode=regression). Drop it."
            )
        model = load(store, run, args.best)
        out = csv.writer(sys.stdout, lineterminator="\n")
        if numbers:
            out.writerow(["path", "value"])
            for path, row in outputs(model, decoder_of(stored["data"]), files, args.batch, tta=mirrored):
                out.writerow([path, f"{row[0]:.6g}"])
            return
        out.writerow(["path", "class", "probability"])
        top = args.top or (None if several_per_image(stored["data"]) else 1)
        for path, label, probability in predictions(
            model,
            class_names,
            decoder_of(stored["data"]),
            files,
            args.batch,
            top,
            thresholds=cut,
            tta=mirrored,
            temperature=heat,
        ):
            out.writerow([path, label, "" if probability is None else f"{probability:.6f}"])

    entry.reported(run, trains=False)


if __name__ == "__main__":
    from runner.__main__ import run_command

    run_command(main)
