"""``python -m runner.evaluate RUN FOLDER``: a past run's model scored on a labelled folder (one
subfolder per class, named as the run's classes) or CSV, recorded as an MLflow run of its own.

For a test set that comes after training. The trained run stays as it finished: each evaluation
is a new run in its experiment, tagged ``runner.evaluation_of``, holding ``eval_accuracy``,
``eval_macro_f1``, ``eval_ece`` (one class per image: its calibration), the confusion matrix and
per-class scores (a regression model: ``eval_mae``,
``eval_rmse``, ``eval_r2`` and its predictions against the truth, from a CSV of numbers), every
image's prediction (``eval/predictions.csv``: the mistakes to look at) and the files it skipped.
Images are decoded as the run's training images were, by ``runner.trained``'s decoder.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from runner.calibration import log_calibration
from runner.cli import RUN_HELP, add_model_options, parsed
from runner.errors import RunnerError
from runner.scores import THRESHOLD, log_evaluation, log_mistakes, log_regression
from runner.words import closest_path, shell_join


def one_class_each(index: Any, ranked: list, top: int) -> tuple:
    """Per file, from its likeliest of ``ranked``: true and predicted class numbers, that
    prediction's probability; the header and rows of ``eval/predictions.csv``."""
    at = {path: i for i, path in enumerate(index.paths)}
    rows = ranked[::top]
    truth = index.labels[[at[path] for path, _, _ in rows]]
    predicted = np.array([index.class_names.index(name) for _, name, _ in rows])
    confidence = np.array([p for _, _, p in rows])
    each = [
        (path, index.class_names[t], name, f"{p:.6f}") for (path, name, p), t in zip(rows, truth, strict=True)
    ]
    return truth, predicted, confidence, ["path", "true", "predicted", "probability"], each


def several_each(index: Any, ranked: list, top: int, thresholds: np.ndarray | float = THRESHOLD) -> tuple:
    """``one_class_each`` for a multi-label model, whose ``top`` is every class: per file, its
    true and predicted (at ``thresholds``: ``THRESHOLD`` as in training, or each class's tuned
    one) classes as 0/1 rows, how far off its surest wrong class is; ``eval/predictions.csv`` has
    each class's probability."""
    names = index.class_names
    at = {path: i for i, path in enumerate(index.paths)}
    paths = [path for path, _, _ in ranked[::top]]
    scores = np.zeros((len(paths), len(names)))
    for n, (_, name, p) in enumerate(ranked):
        scores[n // top, names.index(name)] = p
    truth = index.multi[[at[path] for path in paths]]
    predicted = (scores >= thresholds).astype(truth.dtype)
    said = (index.separator.join(np.asarray(names)[row > 0]) for row in predicted)
    each = [
        (path, index.label_names(at[path]), classes, *(f"{p:.6f}" for p in row))
        for path, classes, row in zip(paths, said, scores, strict=True)
    ]
    confidence = np.abs(scores - truth).max(axis=1)
    return truth, predicted, confidence, ["path", "true", "predicted", *names], each


def a_number_each(index: Any, ranked: list, top: int) -> tuple:
    """``one_class_each`` for a regression model, whose rows are (path, '', its number): per file,
    its true and predicted number and how far off it is."""
    at = {path: i for i, path in enumerate(index.paths)}
    paths = [path for path, _, _ in ranked]
    truth = index.numbers[[at[path] for path in paths]]
    predicted = np.array([value for _, _, value in ranked], np.float32)
    error = predicted - truth
    each = [
        (path, index.label_names(at[path]), f"{p:.6g}", f"{e:.6g}")
        for path, p, e in zip(paths, predicted, error, strict=True)
    ]
    return truth, predicted, np.abs(error), ["path", "true", "predicted", "error"], each


def record(
    trained: Any,
    root: Path,
    index: Any,
    ranked: list,
    top: int,
    skipped: list,
    tags: dict,
    decoder: Any,
    thresholds: np.ndarray | float = THRESHOLD,
) -> tuple[str, dict]:
    """The evaluation as a new run in ``trained``'s experiment: its id and metrics. ``ranked`` are
    (path, class, probability), the ``top`` likeliest classes of each file in turn (more than one
    when the run reported ``trainer.top_k``); ``skipped`` the files that did not decode;
    ``decoder`` decodes them as the model saw them (for the mistakes' picture); ``thresholds``
    a multi-label model's yes to each class."""
    import mlflow

    from runner import record as data
    from runner.fill import decode_batch

    class_names = index.class_names
    rows = ranked[::top]  # each file's likeliest class
    paths = [path for path, _, _ in rows]
    if index.numbers is not None:
        scored = a_number_each
    else:
        scored = one_class_each if index.multi is None else partial(several_each, thresholds=thresholds)
    truth, predicted, confidence, header, each = scored(index, ranked, top)
    tags = {**tags, "runner.evaluation_of": trained.info.run_id}
    name = f"evaluate {root.name}"
    with mlflow.start_run(experiment_id=trained.info.experiment_id, run_name=name, tags=tags) as run:
        mlflow.log_params({"eval.path": str(root), "eval.count": len(rows)})
        if index.numbers is not None:
            error = predicted - truth
            metrics = {
                "eval_mae": float(np.mean(np.abs(error))),
                "eval_rmse": float(np.sqrt(np.mean(error**2))),
                "eval_r2": log_regression(truth, predicted),
            }
        else:
            metrics = {
                "eval_accuracy": float(np.mean(truth == predicted)),
                "eval_macro_f1": log_evaluation(class_names, truth, predicted),
            }
            if index.multi is None:  # each file's likeliest class: how far its probability holds
                metrics["eval_ece"] = log_calibration(confidence, truth == predicted)
        if top > 1 and index.multi is None:  # as top<k>_accuracy: the true class among the k likeliest
            among = [{name for _, name, _ in ranked[i : i + top]} for i in range(0, len(ranked), top)]
            hits = [class_names[label] in names for label, names in zip(truth, among, strict=True)]
            metrics[f"eval_top{top}_accuracy"] = float(np.mean(hits))

        def images(shown: np.ndarray) -> np.ndarray:
            return decode_batch([paths[i] for i in shown], decoder, threads=True)[0]

        log_mistakes(class_names, truth, predicted, confidence, paths, images)
        mlflow.log_metrics(metrics)
        mlflow.log_text(data.csv_text(header, each), "eval/predictions.csv")
        mlflow.log_text(data.skipped_csv([*index.skipped, *skipped]), "data/skipped.csv")
    return run.info.run_id, metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m runner.evaluate",
        description="Score a past run's model on a folder of class subfolders or a labelled CSV, recorded "
        "as a new MLflow run.",
    )
    parser.add_argument("run_id", metavar="RUN", help=RUN_HELP)
    parser.add_argument(
        "folder",
        metavar="FOLDER",
        help="a subfolder of images per class, named as the run's classes; or a CSV of path,label "
        "rows, paths relative to it (the only way for a multi-label run, and for a regression run "
        "unless it read its numbers from file or folder names: then a folder of files so named)",
    )
    parser.add_argument("--path-column", default="path", help="a CSV's column of image paths")
    parser.add_argument(
        "--label-column", default="label", help="a CSV's column of class names (numbers: a regression run)"
    )
    add_model_options(parser)
    args = parsed(parser, argv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from runner import __main__ as entry
    from runner import trained
    from runner.memory import keep_freed_memory
    from runner.predict import outputs, predictions
    from runner.sources.evaluated import read
    from runner.sources.roots import folder
    from runner.stored import client

    keep_freed_memory()  # each batch's decoded images and activations reuse memory: no page faults

    def run() -> None:
        import mlflow

        given = Path(args.folder).expanduser()
        table = given.suffix.lower() == ".csv"
        if table and not given.is_file():
            raise RunnerError(f"{args.folder}: no such CSV file.{closest_path(given)}")
        root = (
            given.resolve()
            if table
            else folder(args.folder, "FOLDER", ", or a CSV of path,label rows").resolve()
        )
        store = client(args.tracking_uri, "--tracking-uri")
        run_id = trained.run_of(store, args.run_id)
        past, stored, class_names = trained.run_record(store, run_id)
        several, numbers = trained.several_per_image(stored["data"]), trained.a_number_each(stored["data"])
        index = read(root, table, f"{args.folder}: run {run_id}", class_names, stored["data"], args)
        cut = trained.tuned(store, run_id, class_names, stored["data"]) if args.tuned else THRESHOLD
        mirrored = trained.flips(run_id, stored) if args.tta else ()
        heat = trained.temperature(past, stored["data"]) if args.calibrated else 1.0
        model = trained.load(store, past, args.best)
        skipped: list[tuple[str, str]] = []
        decoder = trained.decoder_of(stored["data"])
        top = len(class_names) if several else (stored.get("trainer") or {}).get("top_k") or 1
        if numbers:  # rows of (path, '', its number)
            found = outputs(model, decoder, index.paths, args.batch, skipped, mirrored)
            ranked = [(path, "", float(row[0])) for path, row in found]
        else:
            found = predictions(
                model,
                class_names,
                decoder,
                index.paths,
                args.batch,
                top,
                skipped,
                tta=mirrored,
                temperature=heat,
            )
            ranked = list(found)
        if not ranked:
            raise RunnerError(f"{root}: none of its {len(index.paths)} images decodes (each is named above).")
        mlflow.set_tracking_uri(store.tracking_uri)
        command = shell_join(["python", "-m", "runner.evaluate", *(sys.argv[1:] if argv is None else argv)])
        tags = {"runner.command": command, "runner.model": "best" if args.best else "final"}
        tags["runner.tta"] = "_and_".join(mirrored) or "none"  # RandomFlip's mode names
        tags["runner.temperature"] = str(heat)
        if several:
            tags["runner.thresholds"] = "tuned" if args.tuned else str(THRESHOLD)
        evaluation, metrics = record(past, root, index, ranked, top, skipped, tags, decoder, cut)
        scores = (
            f"mae {metrics['eval_mae']:.4f}, rmse {metrics['eval_rmse']:.4f}, R² {metrics['eval_r2']:.4f}"
            if numbers
            else f"accuracy {metrics['eval_accuracy']:.4f}, macro F1 {metrics['eval_macro_f1']:.4f}"
            + (
                f", top-{top} accuracy {metrics[key]:.4f}"
                if (key := f"eval_top{top}_accuracy") in metrics
                else ""
            )
        )
        # Counted by reason as a training run's are: the ones that did not decode are named above.
        left_out = replace(index, skipped=[*index.skipped, *skipped])
        listed = " and data/skipped.csv (each skipped file, and why)" if left_out.skipped else ""
        print(
            f"runner: {len(ranked) // top} images ({left_out.summary()}): {scores}; evaluation run "
            f"{evaluation} (runner.evaluation_of={run_id}), with eval/predictions.csv{listed}"
        )

    entry.reported(run, trains=False)


if __name__ == "__main__":
    from runner.__main__ import run_command

    run_command(main)
