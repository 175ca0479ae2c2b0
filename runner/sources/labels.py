"""Class names and labels from the values a source read (a CSV cell, a folder's or a file's
name): one class per image, or several (``data.label_mode=multi_hot``)."""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np

from runner.errors import closest

log = logging.getLogger(__name__)


def labels_of(values: list[str], class_names: list[str] | None) -> tuple[list[str], np.ndarray, dict]:
    """Class names (given, or the sorted distinct values), integer labels, and position -> reason
    for values that are not a known class."""
    names = list(class_names) if class_names else sorted({v for v in values if v != ""})
    warn_alike(names)
    lookup = {name: i for i, name in enumerate(names)}
    labels = np.array([lookup.get(v, -1) for v in values], dtype=np.int32)
    bad = {
        i: f"unknown label '{v}': not in data.class_names.{closest(v, names)}" if v else "no label"
        for i, v in enumerate(values)
        if v not in lookup
    }
    return names, labels, bad


def multi_labels_of(
    values: list[str], class_names: list[str] | None, separator: str
) -> tuple[list[str], np.ndarray, np.ndarray, dict]:
    """``labels_of`` for cells of several classes ('cat dog'): class names, each image's rarest
    class (to stratify by; -1 for none), its (images, classes) 0/1 row, and position -> reason
    for a cell with a class that is not known. An empty cell is an image of none of the classes:
    the negative examples that teach a model to say no to each."""
    cells = [[name for name in value.split(separator) if name.strip()] for value in values]
    cells = [[name.strip() for name in cell] for cell in cells]
    names = list(class_names) if class_names else sorted({name for cell in cells for name in cell})
    warn_alike(names)
    lookup = {name: i for i, name in enumerate(names)}
    multi = np.zeros((len(values), len(names)), np.uint8)
    bad = {}
    for i, cell in enumerate(cells):
        unknown = [name for name in cell if name not in lookup]
        if unknown:
            bad[i] = f"unknown label '{unknown[0]}': not in data.class_names.{closest(unknown[0], names)}"
        multi[i, [lookup[name] for name in cell if name in lookup]] = 1
    counts = multi.sum(axis=0)
    rarest = np.where(multi.any(axis=1), np.argmin(np.where(multi > 0, counts, np.inf), axis=1), -1)
    return names, rarest.astype(np.int32), multi, bad


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
