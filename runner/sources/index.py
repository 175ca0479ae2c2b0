"""The file index every source returns, and the data check that keeps bad files out of it.

Files that are not usable images are never an exception here: they go to ``FileIndex.skipped``
with a reason, so one bad file in a real folder costs one line in ``data/skipped.csv``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import warnings
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import simplejpeg
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from runner.cpus import usable_cores
from runner.errors import RunnerError, closest, counted, some
from runner.schemas.data import Verify

log = logging.getLogger(__name__)

# Bytes read of each file that shares its size with another, before whole files are compared.
PREFIX = 4096
# Folders at least this large get progress bars for their data check and their decoding.
PROGRESS_FROM = 5000
# Pillow warns of images between its pixel limit and twice it, which it opens: so does the runner,
# and images past twice it are skipped with their reason (``over_pillow_limit``), not a warning.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


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

    @property
    def members(self) -> np.ndarray:
        """(images, classes) bool: whether each image is of each class (one class, or several)."""
        if self.multi is not None:
            return self.multi.astype(bool)
        return self.labels[:, None] == np.arange(len(self.class_names))

    def label_names(self, position: int) -> str:
        """The class of the image at ``position``, or its classes, as its label cell writes them."""
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


def header_problem(path: str) -> str | None:
    """Why ``path`` is not a readable image, from its header alone; None if it looks fine."""
    try:
        if os.path.getsize(path) == 0:
            return "empty file (0 bytes)"
        with Image.open(path) as image:  # any format Pillow knows: the decoder's (TIFF too)
            if min(image.size) < 1:
                return f"image has no pixels: size {image.size}"
    except UnidentifiedImageError:
        return "not an image: Pillow cannot identify the file's contents"
    except OSError as err:
        return f"unreadable: {err}"
    except Image.DecompressionBombError as err:
        return over_pillow_limit(path, err, full=False)
    return None


def full_problem(path: str) -> str | None:
    """``header_problem``, then a full decode at native size (finds truncated and corrupt data)."""
    problem = header_problem(path)
    if problem:
        return problem
    try:
        with Image.open(path) as image:
            image.load()
    except Image.DecompressionBombError as err:
        return over_pillow_limit(path, err, full=True)
    except Exception as err:  # noqa: BLE001 - decoders raise many types
        return f"cannot decode: {type(err).__name__}: {err}"
    return None


def over_pillow_limit(path: str, err: Exception, full: bool) -> str | None:
    """A file past Pillow's pixel limit, its guard against a PNG that inflates to gigabytes: a JPEG
    that libjpeg-turbo reads is no such risk, as the runner decodes it scaled in the DCT (1/8 of a
    200 MP photo's pixels for a small target: ``decode.Decoder.jpeg``), so it passes; with ``full``,
    once all its data decodes (at 1/8 scale, strictly: a truncated file fails)."""
    with open(path, "rb") as file:
        data = file.read()
    try:
        height, width, _, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return f"too large to decode safely: {err} Downscale it, or leave it out."
    if full:
        try:
            simplejpeg.decode_jpeg(data, min_height=-(-height // 8), min_width=-(-width // 8))
        except ValueError as problem:
            return f"cannot decode: {type(problem).__name__}: {problem}"
    return None


def header_size(path: str) -> tuple[int, int] | None:
    """(height, width) from the file's header; None for a file that is no readable image."""
    try:
        with Image.open(path) as image:
            return image.size[::-1]
    except Image.DecompressionBombError:  # a JPEG over Pillow's limit: its decoder's own reading
        with open(path, "rb") as file:
            try:
                return tuple(simplejpeg.decode_jpeg_header(file.read())[:2])
            except ValueError:
                return None
    except (UnidentifiedImageError, OSError):
        return None


def progress(total: int, desc: str, items: Iterable | None = None) -> tqdm:
    """A progress bar on stderr for ``total`` items from PROGRESS_FROM up, on a terminal only: in a
    log file (a batch job's, ``nohup``'s, CI's) each update was one more piece of one long line."""
    disable = None if total >= PROGRESS_FROM else True  # None: tqdm shows it on a terminal only
    return tqdm(items, total=total, desc=desc, file=sys.stderr, disable=disable)


CHECKS: dict[Verify, Callable[[str], str | None]] = {Verify.header: header_problem, Verify.full: full_problem}


def check(index: FileIndex, verify: Verify) -> FileIndex:
    """The index without its bad files (moved to skipped), with their reasons.

    Threads, since Pillow releases the GIL on I/O and decode."""
    if verify == Verify.none:
        return index
    with ThreadPoolExecutor(max_workers=min(32, 4 * usable_cores())) as pool:
        checked = pool.map(CHECKS[verify], index.paths, chunksize=64)
        problems = list(progress(len(index), f"checking files ({verify.name})", checked))
    return index.without({i: problem for i, problem in enumerate(problems) if problem})


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
    if empty:
        names = some([repr(e) for e in empty])
        said = f"class {names} has" if len(empty) == 1 else f"classes {names} have"
        them = "the class" if len(empty) == 1 else "them"
        raise RunnerError(
            with_skipped(
                f"data: {said} no usable image. Add images, or leave {them} out with data.class_names=[...].",
                index,
            )
        )
    return index


def with_skipped(refusal: str, index: FileIndex) -> str:
    """A refusal for too few images or classes, with the files left out on the way (often why),
    some of them named: a run refused before its data is recorded writes no skipped.csv."""
    if not index.skipped:
        return refusal
    return f"{refusal} ({index.summary()}: {some([path for path, _ in index.skipped], most=3)}.)"


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
