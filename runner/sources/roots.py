"""What a folder given as ``data.path`` (``data.val_path``, ``data.test_path``, ``runner.evaluate``'s
FOLDER) may be: a folder, not an archive or a typo; its visible, UTF-8-named subfolders as the
classes; not the folder runs write into, nor one level above the classes (``pets/train/cat``) or
below a lone top folder (``PetImages/PetImages/Cat``). Each refusal names the setting that fits.
"""

from __future__ import annotations

import tarfile
import unicodedata
import zipfile
from pathlib import Path

from runner.errors import RunnerError
from runner.sources.index import RENAME_TO_UTF8, hidden, is_text, named_as_image, shown
from runner.words import class_names_override, closest_path, some

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


def folder(path: str, key: str, also: str = "") -> Path:
    """``path`` as a folder of classes, or the refusal: what it is instead, and what ``key`` takes
    (a folder with one subfolder per class, and ``also``)."""
    root = Path(path).expanduser()
    takes = f"Point {key} at a folder with one subfolder per class{also}."
    if not root.is_dir():
        raise RunnerError(f"{key}: '{root}' {not_a_folder(root)} {takes}")
    if root.resolve() == root.resolve().parent:  # '/': every folder of the machine, read as classes
        raise RunnerError(f"{key}: '{root}' is the file system's root. {takes}")
    return root


def not_a_folder(path: Path) -> str:
    """What ``path`` is instead; a dataset is most often downloaded as an archive."""
    if not path.exists():
        return f"does not exist.{closest_path(path)}"
    if archive := archive_of(path):
        kind, extract = archive
        return f"is a {kind} archive, not a folder: extract it first ({extract})."
    if named_as_image(path):  # one of the images: its class's folder's folder is the classes'
        return f"is an image, not a folder: its classes' folder may be '{path.parent.parent}'."
    return "is not a folder."


def archive_of(path: Path) -> tuple[str, str] | None:
    """``path``'s kind of archive (zip, tar) and the command that extracts it; None if none."""
    into = path.name.split(".")[0] or "data"
    if zipfile.is_zipfile(path):
        return "zip", f"unzip {path.name} -d {into}"
    if tarfile.is_tarfile(path):
        return "tar", f"mkdir {into} && tar xf {path.name} -C {into}"
    return None


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


def is_empty(folder: Path) -> bool:
    """Nothing in it but hidden names (``.DS_Store``, which opening it in the Finder leaves): a
    class folder so is left out of the classes, and one the model has no class for is no refusal."""
    return all(hidden(entry.name) for entry in folder.iterdir())


def other_subfolders(root: Path, classes: list[str]) -> list[str]:
    """``root``'s subfolders that are none of ``classes`` and hold something: a held-out or scored
    folder's, whose images no class of the model could be right about."""
    known = {composed(name) for name in classes}
    return [name for name in subfolders(root) if composed(name) not in known and not is_empty(root / name)]


def class_folder(root: Path, name: str) -> Path:
    """Class ``name``'s folder in ``root``: of its name, or of the name that differs from it only in
    how its accents are composed (macOS writes ``é`` as ``e`` and an accent, most others as one:
    a test folder copied from a Mac, for a run trained elsewhere)."""
    if (root / name).is_dir():
        return root / name
    return next(
        (root / other for other in subfolders(root) if composed(other) == composed(name)), root / name
    )


def composed(name: str) -> str:
    """``name`` with its accents composed (NFC), as names are compared across machines."""
    return unicodedata.normalize("NFC", name)


def refuse_working_directory(root: Path, as_given: str, found: list[str]) -> None:
    """Each run writes Hydra's ``outputs/`` and MLflow's ``mlruns/`` (the runs' plots, PNGs) into
    the folder it runs in: inside ``data.path`` they would be read as classes."""
    here, root = Path.cwd().resolve(), root.resolve()
    if here == root or root in here.parents:
        classes = class_names_override(found, without=RUNNERS_OWN)
        raise RunnerError(
            f"data.path={as_given}: '{root}' holds the folder this command runs in, where each run "
            f"writes outputs/ (Hydra) and mlruns/ (MLflow), which would be read as classes. Run it "
            f"from outside (cd {root.parent} && python -m runner data=dir data.path={root.name}), "
            f"or name the classes: {classes}."
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
        f"Use {settings}; or, if these are classes, name them: {class_names_override(found)}."
    )


def refuse_nested_classes(root: Path, found: list[str]) -> None:
    """One subfolder that holds the class folders (``PetImages/PetImages/{Cat,Dog}``, an archive
    with a top folder unzipped into a folder of its name): one class, where the classes are inside."""
    if len(found) == 1 and len(inner := subfolders(root / found[0])) >= 2:
        raise RunnerError(
            f"data.path: '{root}' has one subfolder, '{found[0]}', and it holds {len(inner)} folders "
            f"({some(inner)}): the classes, nested one level down as archives often have them. "
            f"Point data.path at it: data.path={root / found[0]}"
        )
