"""``data=dir``: class subfolders, as ``keras.utils.image_dataset_from_directory``."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runner.errors import RunnerError
from runner.schemas.data import DirData
from runner.sources.filetypes import other_types
from runner.sources.index import (
    FileIndex,
    as_suffixes,
    hidden,
    require_every_class,
    text_names,
)
from runner.sources.labels import warn_alike, warn_numbers
from runner.sources.roots import (
    class_folder,
    composed,
    folder,
    is_empty,
    other_subfolders,
    refuse_nested_classes,
    refuse_split_folders,
    refuse_working_directory,
    subfolders,
)
from runner.sources.verify import check
from runner.words import closest, counted, some

log = logging.getLogger(__name__)


def list_files(
    top: Path, extensions: set[str], follow_links: bool, left_out: list[str]
) -> tuple[list[str], list]:
    """Image files under ``top`` in sorted order, and (path, reason) for the other files; the
    hidden folders not walked (and ``__MACOSX``) are added to ``left_out``.

    Following links, a folder is walked once, and a link back up to ``top`` or above it (a loop,
    ``cat/up -> ..``) is not walked: ``os.walk`` would go round until paths grew too long, and
    file every image again, under this class, at each turn."""
    found, other = [], []
    start, walked = os.path.realpath(top), set()
    for here, dirs, files in os.walk(top, followlinks=follow_links):
        if follow_links:
            real = os.path.realpath(here)
            # Walked already, or ``top`` or above it; ``top`` itself comes first, when none is walked.
            if walked and (real in walked or (start + os.sep).startswith(real + os.sep)):
                dirs.clear()
                continue
            walked.add(real)
        left_out += [os.path.join(here, name) for name in sorted(dirs) if hidden(name)]
        dirs[:] = sorted(name for name in dirs if not hidden(name))
        for name in sorted(files):
            if hidden(name):
                continue
            path = os.path.join(here, name)
            if os.path.splitext(name)[1].lower() in extensions:
                found.append(path)
            else:
                other.append((path, f"extension not in data.extensions ({', '.join(sorted(extensions))})"))
    return text_names(found, other)


def say_left_out(folders: list[str]) -> None:
    if folders:
        hidden = counted(len(folders), "hidden folder")
        log.info("left out %s, and what they hold: %s", hidden, some(folders, most=3))


def loose_images(root: Path, extensions: set[str]) -> list[tuple[str, str]]:
    """Images beside the class folders belong to no class: said, where keras's loader drops
    them without a word (a README or a labels file there is no loss, so only images count)."""
    return [
        (str(p), "an image beside the class folders, in none of them: move it into its class's folder")
        for p in sorted(root.iterdir())
        if p.suffix.lower() in extensions and not hidden(p.name) and p.is_file()
    ]


def held_itself(loose: list) -> str:
    """What a class's own folder given as the classes' folder (or a flat folder of images) is."""
    if not loose:
        return ""
    return (
        f" It holds {len(loose):,} image{'s' * (len(loose) > 1)} itself, not in subfolders: give "
        f"the folder whose subfolders are the classes, or move each image into its class's subfolder."
    )


@dataclass
class DirSource(DirData):
    """Subfolders of ``path`` are the classes, in sorted order unless ``class_names`` fixes it."""

    def suffixes(self) -> set[str]:
        return as_suffixes(self.extensions)

    def classes(self, root: Path) -> list[str]:
        found = subfolders(root)
        for name in self.class_names or []:
            if composed(name) not in map(composed, found):
                raise RunnerError(
                    f"data.class_names: no subfolder '{name}' in '{root}'.{closest(name, found)} "
                    + (f"Subfolders: {some(found)}." if found else "It has no subfolders.")
                )
        if self.class_names:
            return list(self.class_names)
        refuse_working_directory(root, self.path, found)
        refuse_split_folders(root, found)
        empty = [name for name in found if is_empty(root / name)]
        for name in empty:
            log.warning("class folder '%s' is empty; it is left out of the classes", root / name)
        found = [name for name in found if name not in empty]
        refuse_nested_classes(root, found)
        if not found:
            loose = loose_images(root, self.suffixes())
            fix = (
                held_itself(loose)
                or f" Put each class's images in its own subfolder, e.g. {root}/cats/1.jpg."
            )
            raise RunnerError(f"data.path: '{root}' has no class subfolders with files.{fix}")
        warn_alike(found)
        warn_numbers(found)
        return found

    def held_out(self, path: str, key: str, classes: list[str]) -> Path:
        """The ``val_path``/``test_path`` folder. A subfolder there that is no class of ``path`` is
        said, not silently dropped (unless ``class_names`` picked the classes on purpose)."""
        root = folder(path, key)
        for name in other_subfolders(root, classes) if not self.class_names else []:
            log.warning(
                "%s: subfolder '%s' is not a class of data.path (%s); its images are not used",
                key,
                name,
                some(classes),
            )
        return root

    def index_folder(self, root: Path, classes: list[str], key: str, run: bool = False) -> FileIndex:
        """The class subfolders' images; files of other types are said with what reads them (as
        ``data.extensions``, or for ``runner.evaluate``, that the past ``run`` did not)."""
        extensions = self.suffixes()
        loose = loose_images(root, extensions)
        paths, labels, skipped, left_out = [], [], list(loose), []
        for label, name in enumerate(classes):
            found, other = list_files(class_folder(root, name), extensions, self.follow_links, left_out)
            paths += found
            labels += [label] * len(found)
            skipped += other
        say_left_out(left_out)
        others = other_types([path for path, _ in skipped], self.extensions, run)
        if not paths:
            raise RunnerError(
                f"{key}: no images in '{root}' (looked for {', '.join(self.extensions)} files in "
                f"the class subfolders {some(classes)}).{held_itself(loose) or others}"
            )
        if others:
            log.warning("%s: '%s' has files of other types than data.extensions.%s", key, root, others)
        index = FileIndex(paths, np.asarray(labels, dtype=np.int32), classes, skipped)
        return check(index, self.check_first)

    def given(self, root: Path) -> FileIndex:
        """``data.labels``: one label per image file under ``root``, in sorted path order."""
        left_out = []
        paths, skipped = list_files(root, self.suffixes(), self.follow_links, left_out)
        say_left_out(left_out)
        if len(paths) != len(self.labels):
            raise RunnerError(
                f"data.labels: {len(self.labels)} labels for {len(paths)} image files in '{root}'; give "
                f"one label per file, in sorted path order, or leave data.labels unset to use subfolders."
            )
        labels = np.asarray(self.labels, dtype=np.int32)
        names = list(self.class_names or [str(i) for i in range(int(labels.max()) + 1)])
        if labels.min() < 0 or labels.max() >= len(names):
            raise RunnerError(f"data.labels: values must be in 0..{len(names) - 1} (one per class name).")
        return require_every_class(check(FileIndex(paths, labels, names, skipped), self.check_first))

    def index(self) -> FileIndex:
        root = folder(self.path, "data.path")
        if self.labels is not None:
            if self.val_path or self.test_path:
                key = "data.val_path" if self.val_path else "data.test_path"
                raise RunnerError(
                    f"{key}: its images are labelled by their class subfolders, and data.labels "
                    f"labels data.path's files by position instead. Use class subfolders for both, "
                    f"or unset {key}."
                )
            return self.given(root)
        classes = self.classes(root)
        parts = [(self.index_folder(root, classes, "data.path"), "train" if self.val_path else "")]
        taken = {root.resolve(): ("data.path", "training")}
        for path, key, split, images in (
            (self.val_path, "data.val_path", "val", "validation"),
            (self.test_path, "data.test_path", "test", "test"),
        ):
            if path:
                held_out = self.held_out(path, key, classes)
                if (where := held_out.resolve()) in taken:
                    other, same = taken[where]
                    raise RunnerError(
                        f"{key}={path}: the same folder as {other}, so every {images} image would be a "
                        f"{same} image too, and its scores would flatter the model. Give a folder of "
                        f"images kept apart, or drop {key}."
                    )
                taken[where] = (key, images)
                parts.append((self.index_folder(held_out, classes, key), split))
        index = FileIndex(
            [p for part, _ in parts for p in part.paths],
            np.concatenate([part.labels for part, _ in parts]),
            classes,
            [s for part, _ in parts for s in part.skipped],
            split=np.array([split for part, split in parts for _ in part.paths], dtype=object),
        )
        try:
            return require_every_class(index)
        except RunnerError as refused:  # a class of scans among photos: data.extensions is the fix
            raise RunnerError(
                f"{refused}{other_types([p for p, _ in index.skipped], self.extensions)}"
            ) from None
