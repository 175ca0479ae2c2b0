"""Class names and labels from the values a source read (a CSV cell, a folder's or a file's
name): one class per image, several (``data.label_mode=multi_hot``), or a number to predict
(``regression``)."""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict

import numpy as np

from runner.words import closest, counted, some

log = logging.getLogger(__name__)


def labels_of(values: list[str], class_names: list[str] | None) -> tuple[list[str], np.ndarray, dict]:
    """Class names (given, or the sorted distinct values), integer labels, and position -> reason
    for values that are not a known class."""
    names = list(class_names) if class_names else sorted({v for v in values if v != ""})
    warn_alike(names)
    warn_numbers(names)
    lookup = {name: i for i, name in enumerate(names)}
    labels = np.array([lookup.get(v, -1) for v in values], dtype=np.int32)
    bad = {
        i: f"unknown label '{v}': not in data.class_names.{closest(v, names)}" if v else "no label"
        for i, v in enumerate(values)
        if v not in lookup
    }
    return names, labels, bad


def classes_in(cell: str, separator: str) -> list[str]:
    """The classes a label cell names ('cat dog'), stripped; none for an empty cell."""
    return [name.strip() for name in cell.split(separator) if name.strip()]


def multi_labels_of(
    cells: list[list[str]], class_names: list[str] | None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``labels_of`` for images of several classes each (a CSV cell's, a generator's list): class
    names, each image's rarest class (to stratify by; -1 for none) and its (images, classes) 0/1
    row. No class is an image of none of them: the negative examples that teach a model to say
    no to each. ``class_names`` picks the classes to learn: the others are left out of the rows
    (said, with their counts, as a typo would be one of them), and their images kept."""
    names = list(class_names) if class_names else sorted({name for cell in cells for name in cell})
    warn_alike(names)
    lookup = {name: i for i, name in enumerate(names)}
    others = Counter(name for cell in cells for name in cell if name not in lookup)
    if others:
        log.warning(
            "data.class_names leaves out classes the labels name: %s. Their images keep the "
            "classes of data.class_names they have, or none; a typo would be among these",
            some([f"'{name}' ({counted(n, 'image')})" for name, n in others.most_common()]),
        )
    multi = np.zeros((len(cells), len(names)), np.uint8)
    for i, cell in enumerate(cells):
        multi[i, [lookup[name] for name in cell if name in lookup]] = 1
    counts = multi.sum(axis=0)
    rarest = np.where(multi.any(axis=1), np.argmin(np.where(multi > 0, counts, np.inf), axis=1), -1)
    return names, rarest.astype(np.int32), multi


# A regression's values are split into at most this many ranges of equal counts (each of 20
# images at least), which stratify the split and the folds as classes do.
RANGES = 10
FLOAT32_MAX = float(np.finfo(np.float32).max)  # what a model's float32 output can say


def numbers_of(values: list[str]) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """``labels_of`` for a number per image: each image's number (float32; NaN where it has none),
    the range of values it falls in (to stratify by, so that validation gets low and high values
    alike; -1 for none), and position -> reason for values that are no number."""
    numbers = np.full(len(values), np.nan, np.float32)
    bad = {}
    for i, value in enumerate(values):
        try:
            number = float(value)
        except ValueError:
            comma = " (a decimal comma? write it with a point: 1.5)" if "," in value else ""
            bad[i] = f"label '{value}' is not a number{comma}" if value else "no label"
            continue
        if math.isfinite(number) and abs(number) <= FLOAT32_MAX:
            numbers[i] = number
        else:
            bad[i] = f"label '{value}' is not a finite number"
    return numbers, ranges_of(numbers), bad


def ranges_of(numbers: np.ndarray) -> np.ndarray:
    """Each number's range of values, of ``RANGES`` at most with equal counts (20 at least each),
    numbered from the lowest; -1 for NaN (none)."""
    known = np.isfinite(numbers)
    ranges = max(1, min(RANGES, int(known.sum()) // 20))
    edges = np.quantile(numbers[known], np.linspace(0, 1, ranges + 1)[1:-1]) if known.any() else []
    return np.where(known, np.searchsorted(edges, numbers, side="right"), -1).astype(np.int32)


# More classes than this, each named by a whole number, may be numbers to predict (ages 1-90).
MANY_NUMBERS = 20


def warn_numbers(names: list[str]) -> None:
    """Classes that are all numbers with a fraction (23.5), or more than ``MANY_NUMBERS`` of them:
    most likely a number per image to predict (an age, a count), which as classes would each be
    learnt apart (23 no nearer 24 than 90). Said, not changed: 100 numbered classes are a thing."""
    try:
        numbers = [float(name) for name in names]
    except ValueError:
        return
    if numbers and (len(numbers) > MANY_NUMBERS or any(not n.is_integer() for n in numbers)):
        log.warning(
            "the %d classes are all numbers (%s to %s): each is learnt as a class of its own. If "
            "they are a number per image to predict (an age, a count, a score), add "
            "data.label_mode=regression trainer.monitor=val_mae.",
            len(names),
            names[int(np.argmin(numbers))],
            names[int(np.argmax(numbers))],
        )


def warn_alike(names: list[str]) -> None:
    """Class names that differ only in case ('Cat', 'cat'): two classes, as written, but most
    likely one typed two ways in a CSV or a file name. Said, not merged: the data decides."""
    alike: dict[str, list[str]] = defaultdict(list)
    for name in names:
        alike[name.casefold()].append(name)
    for group in (g for g in alike.values() if len(g) > 1):
        log.warning(
            "classes %s differ only in case: they are %d classes. If they are one, write its label one way.",
            " and ".join(map(repr, group)),
            len(group),
        )


SEPARATORS = ",;|"  # what else a label cell's classes are written apart by


def warn_other_separator(names: list[str], separator: str) -> None:
    """Class names read from cells of several classes each that hold another separator than
    ``data.label_separator`` ('cat|dog' split at spaces): most likely a cell of two classes, learnt
    as one class of its own. Said, not split: a name may hold the character on purpose."""
    for mark in SEPARATORS.replace(separator, ""):
        if holding := [repr(name) for name in names if mark in name]:
            one = len(holding) == 1
            log.warning(
                "%s %s %s '%s', which data.label_separator=%r does not split at: if %s several "
                "classes, set 'data.label_separator=%s'",
                "class" if one else "classes",
                some(holding, most=3),
                "holds" if one else "hold",
                mark,
                separator,
                "it is" if one else "each is",
                mark,
            )
