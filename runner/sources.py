"""Data sources: turn a config into a file index (paths, integer labels, class names).

A source only lists and checks files; decoding happens once, later, in ``cache.py``. Files that
are not usable images are never an exception here: they go to ``FileIndex.skipped`` with a reason,
so one bad file in a real folder costs one line in ``data/skipped.csv``, not the run.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from runner.config import DirData, Verify
from runner.errors import RunnerError, closest

log = logging.getLogger(__name__)

# Formats Pillow may report for files with our extensions (MPO: multi-picture JPEG from cameras).
READABLE_FORMATS = {"JPEG", "MPO", "PNG", "BMP", "GIF", "WEBP"}


@dataclass
class FileIndex:
    paths: list[str]
    labels: np.ndarray
    class_names: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)

    def without(self, bad: dict[int, str]) -> FileIndex:
        """The index minus the entries at ``bad`` (position -> reason), which move to skipped."""
        keep = [i for i in range(len(self.paths)) if i not in bad]
        skipped = self.skipped + [(self.paths[i], reason) for i, reason in sorted(bad.items())]
        return FileIndex([self.paths[i] for i in keep], self.labels[keep], self.class_names, skipped)


def header_problem(path: str) -> str | None:
    """Why ``path`` is not a readable image, from its header alone; None if it looks fine."""
    try:
        if os.path.getsize(path) == 0:
            return "empty file (0 bytes)"
        with Image.open(path) as image:
            if image.format not in READABLE_FORMATS:
                return f"unsupported image format {image.format}"
            if min(image.size) < 1:
                return f"image has no pixels (size {image.size})"
    except UnidentifiedImageError:
        return "not an image: Pillow cannot identify the file's contents"
    except OSError as err:
        return f"unreadable: {err}"
    return None


def check_headers(paths: list[str]) -> dict[int, str]:
    """Position -> reason for every file whose header is bad; threads, since this is I/O bound."""
    with ThreadPoolExecutor(max_workers=min(32, 4 * (os.cpu_count() or 1))) as pool:
        problems = pool.map(header_problem, paths, chunksize=256)
        return {i: reason for i, reason in enumerate(problems) if reason}


@dataclass
class DirSource(DirData):
    """Class subfolders of ``path`` are the labels, in sorted order unless ``class_names`` fixes it."""

    def root(self) -> Path:
        root = Path(self.path).expanduser()
        if not root.is_dir():
            what = "is not a folder" if root.exists() else "does not exist"
            raise RunnerError(
                f"data.path: '{root}' {what}. Point data.path at a folder with one subfolder per class."
            )
        return root

    def classes(self, root: Path) -> list[str]:
        found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not self.class_names:
            if not found:
                raise RunnerError(
                    f"data.path: '{root}' has no class subfolders. Put each class's images in "
                    f"its own subfolder, e.g. {root}/cats/1.jpg."
                )
            return found
        for name in self.class_names:
            if name not in found:
                raise RunnerError(
                    f"data.class_names: no subfolder '{name}' in '{root}'.{closest(name, found)} "
                    f"Subfolders: {', '.join(found)}."
                )
        return list(self.class_names)

    def list_files(self, root: Path, classes: list[str]) -> tuple[list[str], list[int], list]:
        extensions = {"." + e.lower().lstrip(".") for e in self.extensions}
        paths, labels, skipped = [], [], []
        for label, name in enumerate(classes):
            for folder, dirs, files in os.walk(root / name, followlinks=self.follow_links):
                dirs.sort()
                for file in sorted(files):
                    if file.startswith("."):
                        continue
                    path = os.path.join(folder, file)
                    if os.path.splitext(file)[1].lower() in extensions:
                        paths.append(path)
                        labels.append(label)
                    else:
                        skipped.append((path, "extension not in data.extensions"))
        return paths, labels, skipped

    def index(self) -> FileIndex:
        root = self.root()
        classes = self.classes(root)
        paths, labels, skipped = self.list_files(root, classes)
        if not paths:
            raise RunnerError(
                f"data.path: no images in '{root}' (looked for {', '.join(self.extensions)} files in "
                f"the class subfolders {', '.join(classes)})."
            )
        index = FileIndex(paths, np.asarray(labels, dtype=np.int32), classes, skipped)
        if self.verify != Verify.none:
            index = index.without(check_headers(index.paths))
        return require_every_class(index)


def require_every_class(index: FileIndex) -> FileIndex:
    """A class with no usable image cannot be learned: say which, rather than train without it."""
    counts = np.bincount(index.labels, minlength=len(index.class_names))
    empty = [name for name, count in zip(index.class_names, counts, strict=True) if count == 0]
    if empty:
        raise RunnerError(
            f"data: class {', '.join(repr(e) for e in empty)} has no usable image "
            f"({len(index.skipped)} files skipped, see data/skipped.csv). Add images, or leave the "
            f"class out with data.class_names=[...]."
        )
    return index


@dataclass
class DigitsSource(DirSource):
    """Writes scikit-learn's digits as PNG class folders on first use, then reads them as a dir."""

    def index(self) -> FileIndex:
        write_digits(Path(self.path).expanduser())
        return super().index()


def write_digits(root: Path) -> None:
    done = root / ".complete"
    if done.exists():
        return
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    for i, (image, target) in enumerate(zip(pixels, digits.target, strict=True)):
        folder = root / str(target)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i:04d}.png")
    done.touch()
    log.info("wrote %d digits images to %s", len(pixels), root)
