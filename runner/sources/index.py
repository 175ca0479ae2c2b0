"""The file index every source returns, and what every source does with one (the names it can
read, byte-identical copies, a class with no image).

Files that are not usable images are never an exception here: they go to ``FileIndex.skipped``
with a reason, so one bad file in a real folder costs one line in ``data/skipped.csv``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from runner.errors import RunnerError
from runner.schemas.data import IMAGE_EXTENSIONS
from runner.words import class_names_override, counted, some

log = logging.getLogger(__name__)

# Bytes read of each file that shares its size with another, before whole files are compared.
PREFIX = 4096
# Folders at least this large get progress bars for their data check and their decoding.
PROGRESS_FROM = 5000


@dataclass
class FileIndex:
    """Aligned per-image fields; ``paths`` name files, or items of a generator when ``arrays`` is set."""

    paths: list[str]
    labels: np.ndarray
    class_names: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # Fixed per image: "train"/"val"/"test" (data.val_path, data.test_path), or "" for the pipeline
    # to split by data.validation_split; None: all "".
    split: np.ndarray | None = None
    arrays: list[np.ndarray] | None = None  # already-decoded images (the generator source)
    capped: int = 0  # images left out by data.max_per_class (good ones, not skipped)
    # data.label_mode=multi_hot: (images, classes) 0/1, each image's classes; ``labels`` is then
    # each image's rarest class, by which the splits are stratified.
    multi: np.ndarray | None = None
    separator: str = " "  # between an image's classes where they are written (data.label_separator)
    # data.label_mode=regression: each image's number to predict (float32), and no classes;
    # ``labels`` is then the range of values it falls in, by which the splits are stratified.
    numbers: np.ndarray | None = None

    @property
    def members(self) -> np.ndarray:
        """(images, classes) bool: whether each image is of each class (one class, or several)."""
        if self.multi is not None:
            return self.multi.astype(bool)
        return self.labels[:, None] == np.arange(len(self.class_names))

    @property
    def targets(self) -> np.ndarray:
        """What a model learns for each image: its class, its 0/1 row of classes, or its number."""
        if self.numbers is not None:
            return self.numbers
        return self.labels if self.multi is None else self.multi

    def label_names(self, position: int) -> str:
        """The class of the image at ``position``, its classes as its label cell writes them, or its
        number."""
        if self.numbers is not None:
            return f"{self.numbers[position]:.7g}"  # float32's digits: 0.1, not 0.100000001
        if self.multi is None:
            return self.class_names[self.labels[position]]
        return self.separator.join(self.class_names[c] for c in np.flatnonzero(self.multi[position]))

    def __len__(self) -> int:
        return len(self.paths)

    def capped_at(self, most: int | None) -> FileIndex:
        """At most ``most`` images of each class in each part the source placed (train, val,
        test, or not placed), in index order: a random choice that is the same in every run
        (not ``trainer.seed``'s, so that a sweep over seeds trains on the same images)."""
        if most is None:
            return self
        draw = np.random.default_rng(0)
        parts = self.split if self.split is not None else np.full(len(self), "", dtype=object)
        keep: list[int] = []
        for part in sorted(set(parts.tolist())):
            for label in range(len(self.class_names)):
                members = np.flatnonzero((parts == part) & (self.labels == label))
                keep += draw.permutation(members)[:most].tolist()
        keep.sort()
        return replace(
            self,
            paths=[self.paths[i] for i in keep],
            labels=self.labels[keep],
            split=None if self.split is None else self.split[keep],
            arrays=None if self.arrays is None else [self.arrays[i] for i in keep],
            capped=self.capped + len(self) - len(keep),
        )

    def without(self, bad: dict[int, str]) -> FileIndex:
        """The index minus the entries at ``bad`` (position -> reason), which move to skipped."""
        if not bad:
            return self
        keep = [i for i in range(len(self.paths)) if i not in bad]
        return replace(
            self,
            paths=[self.paths[i] for i in keep],
            labels=self.labels[keep],
            skipped=self.skipped + [(self.paths[i], reason) for i, reason in sorted(bad.items())],
            split=None if self.split is None else self.split[keep],
            arrays=None if self.arrays is None else [self.arrays[i] for i in keep],
            multi=None if self.multi is None else self.multi[keep],
            numbers=None if self.numbers is None else self.numbers[keep],
        )

    def summary(self) -> str:
        """'3 files skipped: 2 cannot decode, 1 empty file (0 bytes)' for the console."""
        reasons = Counter(reason.split(":")[0] for _, reason in self.skipped)
        parts = ", ".join(f"{count} {reason}" for reason, count in reasons.most_common())
        noun = "element" if self.arrays is not None else "file"  # a generator's, or a folder's
        if not self.skipped:
            return f"no {noun}s skipped"
        return f"{counted(len(self.skipped), noun)} skipped: {parts}"


# How a name in another encoding came, and how to rename it (a file's, or a class folder's).
RENAME_TO_UTF8 = (
    "made in another encoding (e.g. Latin-1, from an old archive); rename it, e.g. "
    "convmv -f latin1 -t utf8 -r --notest"
)
NOT_UTF8 = f"file name is not UTF-8: {RENAME_TO_UTF8} FOLDER"


def named_as_image(path: str | Path, extensions: Iterable[str] = IMAGE_EXTENSIONS) -> bool:
    """Whether ``path``'s name ends in one of ``extensions`` (any case, as ``jpg`` or ``.JPG``), as
    an image file's does."""
    return Path(path).suffix.lower() in as_suffixes(extensions)


def as_suffixes(extensions: Iterable[str]) -> set[str]:
    """``data.extensions`` as file names end: ``.jpg``, whether given as ``jpg``, ``.JPG``..."""
    return {"." + extension.lower().lstrip(".") for extension in extensions}


def hidden(name: str) -> bool:
    """A name no class's image has: hidden (``.DS_Store``, macOS's ``._x.jpg`` twins of each file,
    ``.ipynb_checkpoints/``), or ``__MACOSX/``, where an unzipped macOS archive keeps those twins
    in a copy of its folder tree (its subfolders would otherwise read as one more class)."""
    return name.startswith(".") or name == "__MACOSX"


def shown(path: str) -> str:
    """``path`` as text: a name's undecodable bytes as \\xNN (Python holds them as surrogates)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def text_names(paths: list[str], skipped: list[tuple[str, str]]) -> tuple[list[str], list[tuple[str, str]]]:
    """``paths`` whose names are UTF-8, and ``skipped`` plus the others, every path as text. A
    name in another encoding fits no CSV, MLflow record or TensorFlow string
    (``image_dataset_from_directory`` stops on one): its file is left out, with how to rename it."""
    text = [is_text(p) for p in paths]
    good = [p for p, ok in zip(paths, text, strict=True) if ok]
    misnamed = [(shown(p), NOT_UTF8) for p, ok in zip(paths, text, strict=True) if not ok]
    return good, [(shown(p), reason) for p, reason in skipped] + misnamed


def is_text(name: str) -> bool:
    return name.isascii() or shown(name) == name


def progress(total: int, desc: str, items: Iterable | None = None) -> tqdm:
    """A progress bar on stderr for ``total`` items from PROGRESS_FROM up, on a terminal only: in a
    log file (a batch job's, ``nohup``'s, CI's) each update was one more piece of one long line."""
    disable = None if total >= PROGRESS_FROM else True  # None: tqdm shows it on a terminal only
    return tqdm(items, total=total, desc=desc, file=sys.stderr, disable=disable)


def identical(paths: list[str], sizes: list[int | str]) -> list[list[int]]:
    """Groups of positions of files with the same bytes. Narrowed in three steps, so that a folder
    of distinct photos costs little (5,000 photos: ~40 ms): the sizes (the data record has them
    anyway), then a checksum of the first ``PREFIX`` bytes of the files that share a size, then a
    hash of the whole files that share both."""
    by_size = {i: size for i, size in enumerate(sizes) if size != ""}  # "": an array, no file
    groups = refine([list(by_size)], by_size)
    groups = refine(groups, {i: read(paths[i], zlib.crc32, PREFIX) for group in groups for i in group})
    return refine(groups, {i: read(paths[i], blake2b) for group in groups for i in group})


def refine(groups: list[list[int]], keys: dict[int, Any]) -> list[list[int]]:
    """Each group split by its positions' ``keys``, keeping the parts of two or more."""
    found = defaultdict(list)
    for n, group in enumerate(groups):
        for i in group:
            found[(n, keys[i])].append(i)
    return [part for part in found.values() if len(part) > 1]


def read(path: str, summary: Callable[[bytes], Any], limit: int = -1) -> Any:
    """``summary`` of the first ``limit`` bytes of ``path`` (-1: all of them)."""
    with open(path, "rb") as file:
        return summary(file.read(limit))


def blake2b(data: bytes) -> bytes:
    return hashlib.blake2b(data).digest()


def require_every_class(index: FileIndex) -> FileIndex:
    """A class with no usable image cannot be learned: say which, rather than train without it."""
    counts = index.members[index.labels >= 0].sum(axis=0)
    empty = [name for name, count in zip(index.class_names, counts, strict=True) if count == 0]
    if not empty:
        return index
    names = some([repr(e) for e in empty])
    if len(empty) == len(index.class_names):  # nothing to leave out: every file is the matter
        raise RunnerError(with_skipped(f"data: no class has a usable image (classes {names}).", index))
    said = f"class {names} has" if len(empty) == 1 else f"classes {names} have"
    them = "the class" if len(empty) == 1 else "them"
    raise RunnerError(
        with_skipped(
            f"data: {said} no usable image. Add images, or leave {them} out: "
            f"{class_names_override(index.class_names, without=empty)}.",
            index,
        )
    )


def with_skipped(refusal: str, index: FileIndex) -> str:
    """A refusal for too few images or classes, with the files left out on the way (often why),
    some of them named: a run refused before its data is recorded writes no skipped.csv."""
    if not index.skipped:
        return refusal
    return f"{refusal} ({index.summary()}: {some([path for path, _ in index.skipped], most=3)}.)"
