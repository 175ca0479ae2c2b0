"""The labelled images ``runner.evaluate`` scores a past run's model on, read against that run's
classes: a folder of class subfolders, or a CSV of path,label rows (several classes to a cell for a
multi-label run, a number for a regression run; or, for a run that read its labels from file
names or its numbers from folder names, a folder of files so named). A class the model does not
know is refused (none of its images could be right), unless the run picked its classes with
``data.class_names``: then its images are skipped, as the run's training skipped them. A row
whose file is missing, or whose number is no number, is skipped with the reason, as in training."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from runner.errors import RunnerError
from runner.words import some

if TYPE_CHECKING:  # for the hints only: the functions here import what they use when called
    from runner.sources.labels_csv import ByName

# Why an image of a class the run left out (``data.class_names``) is skipped.
LEFT_OUT = "no class of the model: its run left it out by data.class_names"


def read(root: Path, table: bool, which: str, class_names: list[str], data: dict, args: Any) -> Any:
    """What ``runner.evaluate``'s FOLDER holds, for the run (``which``: "FOLDER: run ID") whose
    classes and stored ``data`` config are given: a multi-label or regression run's labels come
    from a CSV (``args``: its path and label columns), or from names where the run's own did."""
    from runner.sources.filetypes import of_run
    from runner.trained import a_number_each, several_per_image

    several, numbers = several_per_image(data), a_number_each(data)
    picked = bool(data.get("class_names"))  # the run left other classes out on purpose
    if several and not table:
        raise RunnerError(
            f"{which} is multi-label (data.label_mode=multi_hot), and class folders give one class "
            f"per image: give a CSV of path,label rows, each label cell with the image's classes (as "
            f"in its data.labels_csv)."
        )
    by_name = data.get("labels_from") == "regex" or (numbers and data.get("labels_from") == "parent")
    if by_name and not table:  # labels in file names, or numbers as folder names
        return named(root, data, class_names, picked)
    if numbers and not table:
        raise RunnerError(
            f"{which} predicts a number per image (data.label_mode=regression), and class folders "
            f"give classes: give a CSV of path,label rows, each label the image's number."
        )
    if numbers:
        return listed_numbers(root, args.path_column, args.label_column)
    if table:  # images the model has no class for are refused before it loads
        separator = data.get("label_separator", " ") if several else None
        return listed(root, class_names, args.path_column, args.label_column, separator, picked)
    return labelled(root, class_names, picked, of_run(data), data.get("follow_links", False))


def named(root: Path, data: dict, class_names: list[str], picked: bool = False) -> Any:
    """For a run of ``data=glob`` that read its labels from file names (``data.labels_from=regex``:
    ``Abyssinian_12.jpg``, ``23_1_0.jpg``) or its numbers from folder names (``parent``):
    ``root``'s images, the files its ``data.pattern``'s last part matches (``*.jpg``) anywhere
    under it, each labelled as the run labelled its own. A class the model does not know is
    refused, as a folder's is (skipped, where the run ``picked`` its classes); a name with no
    label or number is skipped, as in training."""
    from runner.schemas.data import LabelMode, LabelsFrom
    from runner.sources.files import GlobSource
    from runner.trained import a_number_each

    numbers = a_number_each(data)
    source = GlobSource(
        pattern=str(root / "**" / Path(data["pattern"]).name),
        labels_from=LabelsFrom(data["labels_from"]),
        label_regex=data.get("label_regex"),
        label_mode=LabelMode.regression if numbers else LabelMode.int,
        class_names=None if numbers else class_names,
    )
    index = source.labelled()
    if not numbers and not picked:  # every file's label (those left out too): a class, or none
        files = [*index.paths, *(path for path, _ in index.skipped)]
        unknown = set(source.label_values(files)) - {"", *class_names}
        if unknown:
            raise not_classes(root, "label", sorted(unknown), class_names, "Leave those files out.")
    return index


def labelled(
    root: Path,
    class_names: list[str],
    picked: bool = False,
    extensions: list | None = None,
    follow_links: bool = False,
) -> Any:
    """The images under ``root``'s class subfolders, labelled by the model's classes. A subfolder
    the model has no class for is an error (none of its images could be right), or where the run
    ``picked`` its classes, its files are skipped; an empty one is left out, as in training; a class
    with no subfolder is fine (a test set may lack some). Images are the files of the types the
    run trained on (``filetypes.of_run``), found as it found its own (``follow_links``)."""
    from runner.sources.folders import DirSource
    from runner.sources.roots import other_subfolders

    unknown = other_subfolders(root, class_names)
    if unknown and not picked:
        folders = "the folder" if len(unknown) == 1 else "the folders"
        raise not_classes(
            root, "subfolder", unknown, class_names, f"Move those images out, or rename {folders}."
        )
    source = DirSource(
        path=str(root), follow_links=follow_links, **({"extensions": extensions} if extensions else {})
    )
    index = source.index_folder(root, class_names, "FOLDER", run=True)
    for name in unknown:
        why = f"subfolder '{name}': {LEFT_OUT}"
        index.skipped += [(str(path), why) for path in sorted((root / name).rglob("*")) if path.is_file()]
    return index


def not_classes(where: Path, what: str, unknown: list[str], class_names: list[str], fix: str) -> RunnerError:
    """The refusal of names the model has no class for: "subfolder 'bird' is no class of the
    model", or for several "subfolders 'bird', 'fox' are no classes of the model"."""
    names = some([repr(name) for name in unknown])
    said = f"{what} {names} is no class" if len(unknown) == 1 else f"{what}s {names} are no classes"
    return RunnerError(f"{where}: {said} of the model, which knows {some(class_names)}. {fix}")


def listed(
    csv_path: Path,
    class_names: list[str],
    path_column: str,
    label_column: str,
    separator: str | None,
    picked: bool = False,
) -> Any:
    """The images a CSV lists (paths relative to it, as for ``data.labels_csv``), labelled by the
    model's classes (several to a cell, split by ``separator``, for a multi-label model). A label
    the model has no class for is an error, as a folder would be; where the run ``picked`` its
    classes, its row is skipped (or for several to a cell, the label left out, as its training
    did). A row whose file is missing is skipped."""
    from runner.sources.index import FileIndex
    from runner.sources.labels import classes_in, multi_labels_of

    rows, by_name = read_evaluated(csv_path, path_column, label_column)
    cells = [
        classes_in(row[label_column], separator) if separator else [row[label_column].strip()] for row in rows
    ]
    unknown = sorted({name for cell in cells for name in cell} - set(class_names))
    if unknown and not picked:
        raise not_classes(csv_path, "label", unknown, class_names, "Leave those rows out.")
    kept, paths, skipped = existing(csv_path, rows, path_column, by_name)
    found = [cells[i] for i in kept]
    if separator is None:  # one class a row: a row of a class the run left out is skipped
        known = [i for i, (name,) in enumerate(found) if name in class_names]
        other = sorted(set(range(len(found))) - set(known))
        skipped += [(paths[i], f"label '{found[i][0]}': {LEFT_OUT}") for i in other]
        labels = np.array([class_names.index(found[i][0]) for i in known], dtype=np.int32)
        return FileIndex([paths[i] for i in known], labels, class_names, skipped)
    _, rarest, multi = multi_labels_of(found, class_names)
    return FileIndex(paths, rarest, class_names, skipped, multi=multi, separator=separator)


def read_evaluated(
    csv_path: Path, path_column: str, label_column: str, numbers: bool = False
) -> tuple[list[dict], ByName]:
    """The rows of ``runner.evaluate``'s CSV (their labels ``numbers`` for a regression run), and
    the images under its folder, which a row may name by name or id alone (Kaggle's ``0a1b``), as
    ``labels_csv.ByName``."""
    from runner.sources.folders import list_files
    from runner.sources.index import as_suffixes
    from runner.sources.labels_csv import CELL_IMAGES, ByName, read_csv

    folder = csv_path.parent
    by_name = ByName(
        lambda: [
            str(Path(path).resolve()) for path in list_files(folder, as_suffixes(CELL_IMAGES), False, [])[0]
        ]
    )
    columns = {"--path-column": path_column, "--label-column": label_column}
    return read_csv(csv_path, columns, by_name, label_column if numbers else None), by_name


def existing(
    csv_path: Path, rows: list[dict], path_column: str, by_name: ByName
) -> tuple[list[int], list[str], list]:
    """The CSV's rows whose file exists (their positions and paths), and the others as skipped."""
    from runner.sources.labels_csv import listed_path, not_there

    kept, paths, skipped = [], [], []
    for i, row in enumerate(rows):
        written = row[path_column].strip()
        path = listed_path(csv_path.parent, written, by_name)
        if path.is_file():
            kept.append(i)
            paths.append(str(path))
        else:
            skipped.append((str(path), not_there(written, path, by_name, csv_path.name)))
    return kept, paths, skipped


def listed_numbers(csv_path: Path, path_column: str, label_column: str) -> Any:
    """``listed`` for a regression model: each image's number. A row whose label is no number is
    skipped with the reason, as in training."""
    from runner.sources.index import FileIndex
    from runner.sources.labels import numbers_of

    rows, by_name = read_evaluated(csv_path, path_column, label_column, numbers=True)
    kept, paths, skipped = existing(csv_path, rows, path_column, by_name)
    numbers, strata, bad = numbers_of([rows[i][label_column].strip() for i in kept])
    index = FileIndex(paths, strata, [], skipped, numbers=numbers)
    return index.without(bad)
