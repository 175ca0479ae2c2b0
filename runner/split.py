"""Which images train, validate and test: the source's own split, then k folds or a stratified,
seeded fraction for the rest.

No TensorFlow here: ``train`` splits the index before TensorFlow starts, so a split that cannot be
made (or a ``val_*`` monitor with nothing to validate on) is one line within seconds;
``prepare`` splits again once the files that fail to decode are left out.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping

import numpy as np

from runner.errors import RunnerError
from runner.schemas.data import DataConfig, LabelsFrom
from runner.sources import FileIndex
from runner.sources.index import with_skipped
from runner.sources.labels import ranges_of
from runner.words import class_names_override, some

log = logging.getLogger(__name__)

Names = Mapping[int, str]  # a stratum's number -> what a message calls it
IMBALANCE = 3.0  # largest class / smallest class in training from which class weights are suggested
PLURAL = {"class": "classes", "range of values": "ranges of values"}


def split_of(cfg: DataConfig, index: FileIndex, seed: int) -> np.ndarray:
    """Per index entry: "train", "val" or "test". The source's own (``data.val_path``,
    ``data.test_path``, ``data.split_column``) first; the others by ``data.folds`` or
    ``data.validation_split``."""
    check_splittable(cfg, index)
    split = np.full(len(index), "", dtype=object) if index.split is None else index.split.copy()
    free = np.flatnonzero(split == "")  # not placed by the source
    if len(free):
        # Numbers' ranges are cut again among the free ones: of all of them, a few free ones may
        # leave a range with one image, which no stratified split takes.
        strata, by, names = strata_of(index, free)
        try:
            if cfg.folds:
                train, val = fold_split(strata, cfg.folds, cfg.fold, seed, by)
            else:
                train, val = stratified_split(strata, cfg.validation_split, seed, by, names)
        except RunnerError as err:
            said = with_skipped(str(err), index)
            if cfg.max_per_class:  # the images are there: the cap left too few of them
                said += (
                    f" Or raise data.max_per_class={cfg.max_per_class} ({index.capped} images left "
                    f"out by it), e.g. data.max_per_class={max(10, 5 * cfg.max_per_class)}."
                )
            raise RunnerError(said) from err
        split[free[train]], split[free[val]] = "train", "val"
    return split


def strata_of(index: FileIndex, free: np.ndarray) -> tuple[np.ndarray, str, Names]:
    """What the ``free`` images are stratified by, its word and its names: classes, or for numbers
    their ranges of values (``23 to 31``)."""
    if index.numbers is None:
        return index.labels[free], "class", dict(enumerate(index.class_names))
    numbers = index.numbers[free]
    strata = ranges_of(numbers)
    names = {}
    for r in set(strata.tolist()):
        low, high = numbers[strata == r].min(), numbers[strata == r].max()
        names[r] = f"{low:g}" if low == high else f"{low:g} to {high:g}"
    return strata, "range of values", names


def log_split(train: int, val: int, test: int, batch_size: int) -> None:
    """How many images each part got and how many updates an epoch makes: a batch larger than the
    training images makes every epoch one update (10 epochs, 10 steps), which nothing else says."""
    log.info(
        "%d training images (an epoch: %s of %d), %d validation, %d test",
        train,
        batches(train, batch_size),
        min(batch_size, train),
        val,
        test,
    )
    if batch_size > train:
        smaller = min(32, 2 ** int(np.log2(max(1, train // 4))))  # 4 updates an epoch or more
        log.warning(
            "data.batch_size=%d is more than the %d training images: each epoch is one update of "
            "the weights. A smaller batch makes more: data.batch_size=%d makes %s an epoch",
            batch_size,
            train,
            smaller,
            batches(train, smaller),
        )


def batches(images: int, batch_size: int) -> str:
    count = -(-images // batch_size)
    return f"{count} batch" + "es" * (count != 1)


def warn_uncovered(index: FileIndex, split: np.ndarray) -> None:
    """Classes a split left without training, validation or test images: possible where the source
    placed them (``data.val_path``, ``data.test_path``, ``data.split_column``) and in the folds of
    a class with fewer images than ``data.folds``. Such a class
    is never learnt, or the metrics say nothing about it, and the run would not say so."""
    for part, images, consequence in (
        ("train", "training", "the model cannot learn {}"),
        ("val", "validation", "val_* metrics leave {} out"),
        ("test", "test", "test_* metrics leave {} out"),
    ):
        if part != "train" and not (split == part).any():
            continue  # no validation or test images at all: nothing to cover
        found = index.members[split == part].any(axis=0)
        missing = [name for name, present in zip(index.class_names, found, strict=True) if not present]
        if missing:
            them = "it" if len(missing) == 1 else "them"
            log.warning(
                "no %s images of %s: %s. Add some, or leave %s out: %s",
                images,
                some([repr(name) for name in missing]),
                consequence.format(them),
                them,
                class_names_override(index.class_names, without=missing),
            )


def imbalance(index: FileIndex, split: np.ndarray) -> str | None:
    """The largest and smallest class in training, where one has ``IMBALANCE`` times the other's
    images: accuracy then rewards the large class, which ``trainer.class_weight=balanced`` offsets.
    One class per image only (class weights are refused for several, or numbers)."""
    if index.multi is not None or index.numbers is not None:
        return None
    trained = index.members[split == "train"].sum(axis=0)
    if not trained.min() or trained.max() / trained.min() < IMBALANCE:
        return None
    large, small = index.class_names[trained.argmax()], index.class_names[trained.argmin()]
    return (
        f"imbalanced: {large!r} has {trained.max()} training images, {small!r} {trained.min()} "
        f"({trained.max() / trained.min():.1f}×); trainer.class_weight=balanced weighs each class alike"
    )


def check_splittable(cfg: DataConfig, index: FileIndex) -> None:
    """What no decoding changes: a classifier needs labels of two classes at least, and folds need
    images that the source left unplaced."""
    if not index.class_names and getattr(cfg, "labels_from", None) == LabelsFrom.none:
        raise RunnerError(
            "data.labels_from=none: the images have no labels to train on. Take them from the "
            "folder each file is in (data.labels_from=parent), a CSV (data.labels_from=csv "
            "data.labels_csv=FILE) or the file name (data.labels_from=regex data.label_regex=...)."
        )
    if index.numbers is not None:
        check_numbers(index)
    elif not index.class_names:
        raise RunnerError(f"data: no image has a usable label ({index.summary()}).")
    elif len(index.class_names) < 2:
        raise RunnerError(
            with_skipped(
                f"data: one class only ('{index.class_names[0]}'); a classifier needs at least two. "
                f"Add images of another class (a subfolder, or rows with another label).",
                index,
            )
        )
    if cfg.folds and index.split is not None and not (index.split == "").any():
        raise RunnerError(
            f"data.folds={cfg.folds}: every image already has its split (data.val_path or "
            f"data.split_column), so the folds would change nothing. Drop data.folds, or that split."
        )


def check_numbers(index: FileIndex) -> None:
    """A regression needs images with numbers, and numbers that differ: one value is nothing to learn."""
    if not len(index):
        raise RunnerError(f"data: no image has a usable label ({index.summary()}).")
    if np.ptp(index.numbers) == 0:
        raise RunnerError(
            with_skipped(
                f"data: every image's number is {index.label_names(0)}; data.label_mode=regression "
                f"learns numbers that differ. Check where they are read from (data.label_column, "
                f"data.label_regex), or add images of other values.",
                index,
            )
        )


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int, by: str = "class", names: Names | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Positions for train and validation with every class in the same proportion in both (for
    several classes per image, each image's rarest: ``FileIndex.multi``; for numbers, each's range
    of values: ``FileIndex.numbers``). ``names`` name the strata in a refusal."""
    positions = np.arange(len(labels))
    if fraction == 0:  # in [0, 1): DataConfig's check
        return positions, positions[:0]
    check_stratifiable(labels, fraction, by, names or {})
    from sklearn.model_selection import train_test_split  # seconds to import: not for a refusal

    train, val = train_test_split(positions, test_size=fraction, stratify=labels, random_state=seed)
    return np.sort(train), np.sort(val)


def check_stratifiable(labels: np.ndarray, fraction: float, by: str, names: Names) -> None:
    """What scikit-learn refuses, said with the strata's names and the fix (its own message says
    "classes with too few members are: [3]")."""
    setting, count = f"data.validation_split={fraction}", len(labels)
    ids, counts = np.unique(labels, return_counts=True)
    lone = [names.get(int(i), int(i)) for i in ids[counts < 2]]
    alone = [repr(name) for name in lone]
    if alone:
        them = "it" if len(alone) == 1 else "them"
        kept = class_names_override(list(names.values()), without=lone)
        # Leaving out every class would leave nothing to train on: then no such advice.
        leave = f", leave {them} out with {kept}" if by == "class" and len(lone) < len(names) else ""
        raise RunnerError(
            f"{setting}: cannot split {count} images by {by}: {some(alone)} "
            f"{'has' if len(alone) == 1 else 'have'} one image, and a stratified split needs two of "
            f"each {by} (one to train on, one to validate). Add images of {them}{leave}, or "
            f"validate on none: data.validation_split=0."
        )
    strata, val = len(ids), math.ceil(fraction * count)
    if min(val, count - val) < strata:
        lowest, highest = math.ceil(100 * strata / count) / 100, (100 * (count - strata) // count) / 100
        while math.ceil(highest * count) > count - strata:  # 0.56 * 25 is 14.000000000000002 in floats
            highest = round(highest - 0.01, 2)
        raise RunnerError(
            f"{setting}: cannot split {count} images by {by}: it validates on {val} and trains on "
            f"{count - val}, and a stratified split needs as many images in each as there are "
            f"{PLURAL[by]} ({strata}). Set data.validation_split between {lowest} and {highest}."
        )


def fold_split(
    labels: np.ndarray, folds: int, fold: int, seed: int, by: str = "class"
) -> tuple[np.ndarray, np.ndarray]:
    """Positions for train and validation: fold ``fold`` of ``folds`` stratified, seeded folds, so
    the jobs of a sweep over ``data.fold`` (same seed) validate on each image exactly once."""
    counts = np.unique(labels, return_counts=True)[1]
    if folds > counts.max():
        fix = f"Lower data.folds to {counts.max()}, or add images" if counts.max() >= 2 else "Add images"
        raise RunnerError(
            f"data.folds={folds}: cannot split {len(labels)} images into {folds} folds by {by}: no "
            f"{by} has {folds} images (the most: {counts.max()}). {fix}."
        )
    from sklearn.model_selection import StratifiedKFold

    with warnings.catch_warnings():  # a class with fewer images than folds: warn_uncovered names it
        warnings.simplefilter("ignore", UserWarning)
        return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(labels, labels))[fold]
