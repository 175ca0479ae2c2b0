"""What a model's predictions on labelled images are logged as, by a run for its validation and
test images and by ``runner.evaluate``: per-class scores, the confusion matrix, the mistakes; a
multi-label model's tuned thresholds; a regression's predictions against the truth. (Their
calibration: ``runner.calibration``.)"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
MISTAKES = 24  # the most confident wrong predictions drawn in eval/<prefix>mistakes.png
THRESHOLD = 0.5  # a multi-label model's yes to a class, in its training's accuracy and everywhere after
# The thresholds tried per class on the validation images (``log_thresholds``): coarse, so that a
# few images do not decide a threshold to the third decimal.
GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)
TUNED = "eval/thresholds.csv"


def log_evaluation(
    class_names: list[str], truth: np.ndarray, predicted: np.ndarray, prefix: str = ""
) -> float:
    """``eval/<prefix>confusion_matrix.csv`` (and ``.png``, which the MLflow UI shows) and
    ``eval/<prefix>per_class.csv`` (precision, recall, F1 and support of each class); returns the
    macro F1 over the classes present. Accuracy hides a rare class the model never gets right;
    the macro F1 does not. ``truth`` and ``predicted`` are class numbers, or (images, classes) 0/1
    for several classes per image: then the matrix is each class's own yes/no counts (no picture)."""
    import mlflow
    from sklearn.metrics import confusion_matrix, multilabel_confusion_matrix, precision_recall_fscore_support

    from runner import record
    from runner.figures import matrix_figure

    classes = range(len(class_names))
    if truth.ndim == 2:
        counts = multilabel_confusion_matrix(truth, predicted).reshape(-1, 4).tolist()  # tn fp fn tp
        rows = ([name, *row] for name, row in zip(class_names, counts, strict=True))
        header = ["class", "true_negatives", "false_positives", "false_negatives", "true_positives"]
        mlflow.log_text(record.csv_text(header, rows), f"eval/{prefix}confusion_matrix.csv")
    else:
        matrix = confusion_matrix(truth, predicted, labels=classes)
        rows = ([name, *counts] for name, counts in zip(class_names, matrix.tolist(), strict=True))
        header = ["true\\predicted", *class_names]
        mlflow.log_text(record.csv_text(header, rows), f"eval/{prefix}confusion_matrix.csv")
        mlflow.log_figure(matrix_figure(matrix, class_names), f"eval/{prefix}confusion_matrix.png")
        if said := most_confused(matrix, class_names):
            log.info("%s images most often mistaken: %s", prefix.rstrip("_") or "validation", said)
    scores = precision_recall_fscore_support(truth, predicted, labels=classes, zero_division=0)
    rows = (
        [name, f"{precision:.4f}", f"{recall:.4f}", f"{f1:.4f}", int(support)]
        for name, precision, recall, f1, support in zip(class_names, *scores, strict=True)
    )
    header = ["class", "precision", "recall", "f1", "support"]
    mlflow.log_text(record.csv_text(header, rows), f"eval/{prefix}per_class.csv")
    return float(scores[2][scores[3] > 0].mean())


def most_confused(matrix: np.ndarray, class_names: list[str], most: int = 3) -> str:
    """The ``most`` commonest mistakes of a confusion matrix (rows true, columns predicted), commonest
    first: "'9' taken for '7' 3 times, '3' for '8' 2 times"; '' for none. The first thing to look
    at after accuracy: a pair of classes alike, or labels mixed up between them."""
    wrong = matrix.astype(np.int64) * (1 - np.eye(len(matrix), dtype=np.int64))
    order = np.argsort(-wrong, axis=None, kind="stable")[:most]
    pairs = [(i, j) for i, j in zip(*np.unravel_index(order, wrong.shape), strict=True) if wrong[i, j]]
    return ", ".join(
        f"{class_names[i]!r} {'taken ' if n == 0 else ''}for {class_names[j]!r} {wrong[i, j]} "
        f"time{'s' if wrong[i, j] > 1 else ''}"
        for n, (i, j) in enumerate(pairs)
    )


def log_thresholds(class_names: list[str], truth: np.ndarray, probabilities: np.ndarray) -> float:
    """``eval/thresholds.csv``: for a multi-label model, each class's threshold on ``GRID`` with the
    best F1 on the validation images (``truth``, images x classes 0/1), beside its F1 at
    ``THRESHOLD``: a rare class's probabilities seldom reach 0.5. A class with no validation
    image keeps ``THRESHOLD``; ties go to the one nearest it. Returns the macro F1 at the tuned
    thresholds (tuned on these images, so an optimistic one: ``runner.evaluate --tuned`` on other
    images gives the honest figure). ``runner.predict --tuned`` and the export use them."""
    import mlflow
    from sklearn.metrics import f1_score

    from runner import record

    nearest_first = GRID[np.argsort(np.abs(GRID - THRESHOLD), kind="stable")]
    rows, tuned = [], []
    for c, name in enumerate(class_names):
        yes, said = truth[:, c], probabilities[:, c]
        scores = [float(f1_score(yes, said >= t, zero_division=0)) for t in nearest_first]
        at_half = float(f1_score(yes, said >= THRESHOLD, zero_division=0))
        best, at_best = THRESHOLD, at_half  # no validation image of the class: nothing to tune on
        if yes.any():
            best, at_best = float(nearest_first[int(np.argmax(scores))]), max(scores)
        tuned.append(at_best)
        rows.append([name, f"{best:.2f}", f"{at_best:.4f}", f"{at_half:.4f}", int(yes.sum())])
    header = ["class", "threshold", "f1", f"f1_at_{THRESHOLD}", "support"]
    mlflow.log_text(record.csv_text(header, rows), TUNED)
    present = truth.any(axis=0)
    return float(np.mean(np.asarray(tuned)[present]))


def log_regression(truth: np.ndarray, predicted: np.ndarray, prefix: str = "") -> float:
    """``eval/<prefix>predicted_vs_true.png``: each image's prediction against its number, on the
    line where they would be equal (a model that predicts the mean for all is a flat row; one
    that shrinks towards it, a line flatter than the diagonal). Returns R²: 1 is every number
    right, 0 no better than the mean, below 0 worse."""
    import mlflow
    from matplotlib.figure import Figure
    from sklearn.metrics import r2_score

    figure = Figure(figsize=(5, 5), layout="constrained")
    axes = figure.subplots()
    axes.scatter(truth, predicted, s=8, alpha=0.6)
    ends = [min(truth.min(), predicted.min()), max(truth.max(), predicted.max())]
    axes.plot(ends, ends, color="grey", linewidth=1)
    r2 = float(r2_score(truth, predicted))
    axes.set(xlabel="true", ylabel="predicted", title=f"{len(truth)} images, R² {r2:.3f}")
    mlflow.log_figure(figure, f"eval/{prefix}predicted_vs_true.png")
    return r2


def log_mistakes(
    class_names: list[str],
    truth: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    paths: list[str],
    images: Callable[[np.ndarray], np.ndarray],
    prefix: str = "",
) -> None:
    """``eval/<prefix>mistakes.png``: the images the model got wrong most confidently, each with
    its file name, true class and prediction: the ones to look at first (a wrong label, a class
    that needs more examples, a shortcut the model learnt). ``images(positions)`` gives their
    pixels as the model saw them. ``truth`` and ``predicted`` as for ``log_evaluation``."""
    import mlflow
    from PIL import Image, ImageDraw

    from runner.figures import caption_font, captions, fitted, in_caption
    from runner.preview import TILE, tile

    wrong = np.flatnonzero((truth != predicted).reshape(len(truth), -1).any(axis=1))
    if not len(wrong):
        return
    shown = wrong[np.argsort(-confidence[wrong], kind="stable")][:MISTAKES]
    columns, caption, gap = 6, 36, 8
    rows = -(-len(shown) // columns)
    sheet = Image.new("RGB", (columns * (TILE + gap), rows * (TILE + caption + gap)), "white")
    draw, font, names = ImageDraw.Draw(sheet), caption_font(), captions(class_names)

    def named(label: np.ndarray) -> str:  # a class number, a 0/1 row of several (or none), a number
        if label.dtype.kind == "f":
            return f"{label:.4g}"
        if label.ndim == 0:
            return names[label]
        return " ".join(names[c] for c in np.flatnonzero(label)) or "(none)"

    for n, (i, pixels) in enumerate(zip(shown, images(shown), strict=True)):
        x, y = (n % columns) * (TILE + gap), (n // columns) * (TILE + caption + gap)
        sheet.paste(tile(pixels), (x, y))
        said, score, room = "said ", f" ({confidence[i]:.2f})", TILE + gap - 2  # into the gap, not past it
        lines = [
            fitted(in_caption(Path(paths[i]).name), room),
            "true " + fitted(named(truth[i]), room - font.getlength("true ")),
            said + fitted(named(predicted[i]), room - font.getlength(said + score)) + score,
        ]
        for k, line in enumerate(lines):
            draw.text((x, y + TILE + 1 + 11 * k), line, fill="black", font=font)
    mlflow.log_image(sheet, f"eval/{prefix}mistakes.png")
