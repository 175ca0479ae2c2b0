"""``data=dir``: class subfolders, as ``keras.utils.image_dataset_from_directory``."""

from __future__ import annotations

import logging
import os
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runner.errors import RunnerError
from runner.schemas.data import DirData
from runner.sources.index import (
    RENAME_TO_UTF8,
    FileIndex,
    hidden,
    is_text,
    require_every_class,
    shown,
    text_names,
)
from runner.sources.labels import warn_alike, warn_numbers
from runner.sources.verify import check
from runner.words import closest, closest_path, counted, some

log = logging.getLogger(__name__)

# Folder names that mean a split, not a class, and the setting that takes such a folder.
SPLIT_FOLDERS = {
    "train": "data.path",
    "training": "data.path",
    "val": "data.val_path",
    "valid": "data.val_path",
    "validation": "data.val_path",
    "test": "data.test_path",
    "testing": "data.test_path",
}
SPLIT_SETTINGS = tuple(dict.fromkeys(SPLIT_FOLDERS.values()))  # in this order: data.path first
RUNNERS_OWN = ("outputs", "multirun", "mlruns")  # what runs write into their working directory


def folder(path: str, key: str) -> Path:
    root = Path(path).expanduser()
    if not root.is_dir():
        raise RunnerError(
            f"{key}: '{root}' {not_a_folder(root)} Point {key} at a folder with one subfolder per class."
        )
    return root


def not_a_folder(path: Path) -> str:
    """What ``path`` is instead; a dataset is most often downloaded as an archive."""
    if not path.exists():
        return f"does not exist.{closest_path(path)}"
    if archive := archive_of(path):
        kind, extract = archive
        return f"is a {kind} archive, not a folder: extract it first ({extract})."
    return "is not a folder."


def archive_of(path: Path) -> tuple[str, str] | None:
    """``path``'s kind of archive (zip, tar) and the command that extracts it; None if none."""
    into = path.name.split(".")[0] or "data"
    if zipfile.is_zipfile(path):
        return "zip", f"unzip {path.name} -d {into}"
    if tarfile.is_tarfile(path):
        return "tar", f"mkdir {into} && tar xf {path.name} -C {into}"
    return None


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


def subfolders(root: Path) -> list[str]:
    """The names of ``root``'s visible subfolders, sorted: its classes, as keras's loader sees them
    (``__MACOSX`` aside: see ``hidden``).
    A name that is not UTF-8 could name no class in a record: refused, with how to rename it."""
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not hidden(p.name))
    if misnamed := [name for name in names if not is_text(name)]:
        raise RunnerError(
            f"'{shown(str(root))}': subfolder '{shown(misnamed[0])}' has a name that is not UTF-8: "
            f"{RENAME_TO_UTF8} {shown(str(root))}"
        )
    return names


def refuse_working_directory(root: Path, as_given: str, found: list[str]) -> None:
    """Each run writes Hydra's ``outputs/`` and MLflow's ``mlruns/`` (the runs' plots, PNGs) into
    the folder it runs in: inside ``data.path`` they would be read as classes."""
    here, root = Path.cwd().resolve(), root.resolve()
    if here == root or root in here.parents:
        classes = some([name for name in found if name not in RUNNERS_OWN], sep=",")
        raise RunnerError(
            f"data.path={as_given}: '{root}' holds the folder this command runs in, where each run "
            f"writes outputs/ (Hydra) and mlruns/ (MLflow), which would be read as classes. Run it "
            f"from outside (cd {root.parent} && python -m runner data=dir data.path={root.name}), "
            f"or name the classes: data.class_names=[{classes}]."
        )


def refuse_split_folders(root: Path, found: list[str]) -> None:
    """``data.path`` one level above the classes (``pets/train/cat``): the run would learn to tell
    train from val from test, and score well doing it. Refused, with the settings that fit."""
    splits = [name for name in found if name.lower() in SPLIT_FOLDERS and subfolders(root / name)]
    if not splits:
        return
    inner = subfolders(root / splits[0])
    ordered = sorted(splits, key=lambda name: SPLIT_SETTINGS.index(SPLIT_FOLDERS[name.lower()]))
    settings = " ".join(f"{SPLIT_FOLDERS[name.lower()]}={root / name}" for name in ordered)
    raise RunnerError(
        f"data.path: '{root}' holds {', '.join(splits)}, each with subfolders of its own "
        f"({some(inner, most=4)}): splits, not classes. "
        f"Use {settings}; or, if these are classes, name them: data.class_names=[{some(found, sep=',')}]."
    )


def loose_images(root: Path, extensions: set[str]) -> list[tuple[str, str]]:
    """Images beside the class folders belong to no class: said, where keras's loader drops
    them without a word (a README or a labels file there is no loss, so only images count)."""
    return [
        (str(p), "an image beside the class folders, in none of them: move it into its class's folder")
        for p in sorted(root.iterdir())
        if p.suffix.lower() in extensions and not hidden(p.name) and p.is_file()
    ]


@dataclass
class DirSource(DirData):
    """Subfolders of ``path`` are the classes, in sorted order unless ``class_names`` fixes it."""

    def classes(self, root: Path) -> list[str]:
        found = subfolders(root)
        for name in self.class_names or []:
            if name not in found:
                raise RunnerError(
                    f"data.class_names: no subfolder '{name}' in '{root}'.{closest(name, found)} "
                    + (f"Subfolders: {some(found)}." if found else "It has no subfolders.")
                )
        if self.class_names:
            return list(self.class_names)
        refuse_working_directory(root, self.path, found)
        refuse_split_folders(root, found)
        empty = [name for name in found if not any((root / name).iterdir())]
        for name in empty:
            log.warning("class folder '%s' is empty; it is left out of the classes", root / name)
        found = [name for name in found if name not in empty]
        if len(found) == 1 and len(inner := subfolders(root / found[0])) >= 2:  # one class: no classifier
            raise RunnerError(
                f"data.path: '{root}' has one subfolder, '{found[0]}', and it holds {len(inner)} folders "
                f"({some(inner)}): the classes, nested one level down as archives often have them. "
                f"Point data.path at it: data.path={root / found[0]}"
            )
        if not found:
            raise RunnerError(
                f"data.path: '{root}' has no class subfolders with files. Put each class's images "
                f"in its own subfolder, e.g. {root}/cats/1.jpg."
            )
        warn_alike(found)
        warn_numbers(found)
        return found

    def held_out(self, path: str, key: str, classes: list[str]) -> Path:
        """The ``val_path``/``test_path`` folder. A subfolder there that is no class of ``path`` is
        said, not silently dropped (unless ``class_names`` picked the classes on purpose)."""
        root = folder(path, key)
        for name in [n for n in subfolders(root) if n not in classes] if not self.class_names else []:
            log.warning(
                "%s: subfolder '%s' is not a class of data.path (%s); its images are not used",
                key,
                name,
                some(classes),
            )
        return root

    def index_folder(self, root: Path, classes: list[str], key: str) -> FileIndex:
        extensions = {"." + e.lower().lstrip(".") for e in self.extensions}
        loose = loose_images(root, extensions)
        paths, labels, skipped, left_out = [], [], list(loose), []
        for label, name in enumerate(classes):
            found, other = list_files(root / name, extensions, self.follow_links, left_out)
            paths += found
            labels += [label] * len(found)
            skipped += other
        say_left_out(left_out)
        if not paths:
            here = (  # a class's own folder given, or a flat folder of images
                f" It holds {len(loose):,} image{'s' * (len(loose) > 1)} itself, not in subfolders: "
                f"give the folder whose subfolders are the classes, or move each image into its "
                f"class's subfolder."
                if loose
                else ""
            )
            raise RunnerError(
                f"{key}: no images in '{root}' (looked for {', '.join(self.extensions)} files in "
                f"the class subfolders {some(classes)}).{here}"
            )
        index = FileIndex(paths, np.asarray(labels, dtype=np.int32), classes, skipped)
        return check(index, self.check_first)

    def given(self, root: Path) -> FileIndex:
        """``data.labels``: one label per image file under ``root``, in sorted path order."""
        extensions = {"." + e.lower().lstrip(".") for e in self.extensions}
        left_out = []
        paths, skipped = list_files(root, extensions, self.follow_links, left_out)
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
                if held_out.resolve() in taken:
                    other, same = taken[held_out.resolve()]
                    raise RunnerError(
                        f"{key}={path}: the same folder as {other}, so every {images} image would be a "
                        f"{same} image too, and its scores would flatter the model. Give a folder of "
                        f"images kept apart, or drop {key}."
                    )
                taken[held_out.resolve()] = (key, images)
                parts.append((self.index_folder(held_out, classes, key), split))
        return require_every_class(
            FileIndex(
                [p for part, _ in parts for p in part.paths],
                np.concatenate([part.labels for part, _ in parts]),
                classes,
                [s for part, _ in parts for s in part.skipped],
                split=np.array([split for part, split in parts for _ in part.paths], dtype=object),
            )
        )
