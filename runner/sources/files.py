"""``data=glob``: files matched by a pattern; labels from a CSV, the parent folder, a regex, or none.

This is the ``Dataset.list_files`` + CSV recipe, with its failure modes turned into records: CSV
rows whose file is missing, files the CSV does not list, unknown labels and paths that leave the
data root all go to ``data/skipped.csv`` with a reason, and the run goes on without them.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runner.errors import RunnerError
from runner.schemas.data import GlobData, LabelMode, LabelsFrom
from runner.sources.index import FileIndex, named_as_image, require_every_class, text_names
from runner.sources.labels import classes_in, labels_of, multi_labels_of, numbers_of, warn_other_separator
from runner.sources.labels_csv import (
    ByName,
    listed_path,
    not_there,
    read_csv,
    refuse_cwd_relative,
    unique_rows,
)
from runner.sources.patterns import fixed_prefix, near_misses
from runner.sources.roots import RUNNERS_OWN, SPLIT_FOLDERS, SPLIT_SETTINGS, archive_of
from runner.sources.verify import check
from runner.words import counted

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test", "")  # data.split_column's values; "": data.validation_split decides


def warn_pooled_splits(files: list[str], root: Path) -> None:
    """Files under folders named like splits (``pets/train/cat``, ``pets/test/cat``) that one
    pattern pools: data.validation_split then splits them again, and test images may be trained on."""
    folders: dict[str, str] = {}  # setting -> the folder name that asks for it
    for parent in {os.path.dirname(f) for f in files}:
        relative = Path(parent).relative_to(root).parts if parent.startswith(str(root)) else ()
        for name in relative:
            folders.setdefault(SPLIT_FOLDERS.get(name.lower(), ""), name)
    folders.pop("", None)
    if len(folders) > 1:
        log.warning(
            "data.pattern: the files lie under folders named %s and are pooled: data.validation_split "
            "splits them again, so images meant for validation or testing may be trained on. To keep "
            "that split, use data=dir with %s (each the folder of class subfolders), or a labels CSV "
            "with data.split_column.",
            ", ".join(sorted(folders.values())),
            ", ".join(sorted(folders, key=SPLIT_SETTINGS.index)),
        )


@dataclass
class GlobSource(GlobData):
    def data_root(self) -> Path:
        if self.root:
            return Path(self.root).expanduser().resolve()
        if self.labels_from == LabelsFrom.csv:
            return Path(self.labels_csv or ".").expanduser().resolve().parent
        return fixed_prefix(os.path.expanduser(self.pattern)).resolve()

    def matches(self) -> list[str]:
        found = sorted(
            p for p in glob.glob(os.path.expanduser(self.pattern), recursive=True) if os.path.isfile(p)
        )
        if not found and os.path.isdir(os.path.expanduser(self.pattern)):
            raise RunnerError(
                f"data.pattern='{self.pattern}': a folder, not files. Match the files in it, e.g. "
                f"data.pattern='{os.path.join(self.pattern, '**', '*.jpg')}' (with its subfolders)."
            )
        if not found:
            raise RunnerError(f"data.pattern='{self.pattern}': matches no files. {near_misses(self.pattern)}")
        # Through a symlinked folder the same file matches twice; it is one image, used once.
        files = list(dict.fromkeys(str(Path(p).resolve()) for p in found))
        images = any(named_as_image(f) for f in files)
        if not images and (archive := archive_of(Path(files[0]))):  # the downloaded dataset
            kind, extract = archive
            raise RunnerError(
                f"data.pattern='{self.pattern}': matches {Path(files[0]).name}, a {kind} archive: "
                f"extract it first ({extract}), then match the images in it, e.g. "
                f"data.pattern='{extract.split()[-1]}/**/*.jpg'."
            )
        for own in (str(Path.cwd().resolve() / name) + os.sep for name in RUNNERS_OWN):
            if inside := [f for f in files if f.startswith(own)]:
                raise RunnerError(
                    f"data.pattern='{self.pattern}': matches {counted(len(inside), 'file')} in {own}, "
                    f"where runs write their outputs (Hydra) or plots (MLflow), e.g. {inside[0]}. "
                    f"Narrow the pattern to your images' folder, e.g. photos/**/*.jpg."
                )
        return files

    def from_csv(self, files: list[str], root: Path) -> tuple[list[str], list[str], list, list[str]]:
        """(paths, label values, skipped, splits) for the CSV's rows; files it does not list are
        skipped. A split is ``data.split_column``'s value, or '' for data.validation_split to decide."""
        if not self.labels_csv:
            raise RunnerError("data.labels_from=csv needs data.labels_csv=path/to/labels.csv.")
        csv_path = Path(self.labels_csv).expanduser().resolve()
        columns = {"data.path_column": self.path_column, "data.label_column": self.label_column}
        columns |= {"data.split_column": self.split_column} if self.split_column else {}
        on_disk, by_name = set(files), ByName(lambda: files)
        numbers = self.label_column if self.label_mode == LabelMode.regression else None
        rows = read_csv(csv_path, columns, by_name, numbers)
        skipped, listed = [], set()
        entries: dict[str, list[tuple[str, str]]] = {}  # path -> (label, split) of each row listing it
        for row in rows:
            written = row[self.path_column].strip()
            path = listed_path(csv_path.parent, written, by_name)
            listed.add(str(path))
            if not path.is_file():  # first: allowing one outside the data root would not find it
                skipped.append((str(path), not_there(written, path, by_name, "data.labels_csv")))
            elif not self.allow_outside_root and not path.is_relative_to(root):
                skipped.append(
                    (
                        row[self.path_column],
                        f"outside the data root {root}; set data.allow_outside_root=true to allow it",
                    )
                )
            elif (split := row[self.split_column].strip() if self.split_column else "") not in SPLITS:
                skipped.append(
                    (str(path), f"split '{split}' in data.split_column is not train, val, test or empty")
                )
            elif str(path) in on_disk:
                entries.setdefault(str(path), []).append((self.label_cell(row[self.label_column]), split))
        if rows and not entries:
            refuse_cwd_relative(rows, self.path_column, csv_path)
        if by_name.found:
            log.info(
                "data.labels_csv names %s not as they are here (by name alone, another machine's path "
                "or another case): each is the one file data.pattern matches so (%s: %s)",
                counted(len(by_name.found), "file"),
                *by_name.found[0],
            )
        skipped += [(f, "not listed in data.labels_csv") for f in files if f not in listed]
        paths, values, splits = [], [], []
        for path, (label, split), conflict in unique_rows(entries):
            if conflict:
                skipped.append((path, conflict))
            else:
                paths.append(path)
                values.append(label)
                splits.append(split)
        return paths, values, skipped, splits

    def label_cell(self, cell: str) -> str:
        """A CSV's label, stripped; with several classes per image, in one order (a file listed
        twice as 'cat dog' and 'dog cat' has one label)."""
        if self.label_mode != LabelMode.multi_hot:
            return cell.strip()
        return self.label_separator.join(sorted(classes_in(cell, self.label_separator)))

    def label_values(self, files: list[str]) -> list[str]:
        if self.labels_from == LabelsFrom.parent:
            return [Path(f).parent.name for f in files]
        if self.labels_from == LabelsFrom.regex:
            if not self.label_regex:
                raise RunnerError("data.labels_from=regex needs data.label_regex, e.g. '^(\\w+)_\\d+'.")
            pattern = re.compile(self.label_regex)
            found = [pattern.search(Path(f).name) for f in files]
            if files and not any(found):
                raise RunnerError(
                    f"data.label_regex={self.label_regex!r}: matches none of the {len(files)} file names "
                    f"(e.g. '{Path(files[0]).name}'); its group 'label', or group 1, is the class."
                )
            return [
                (m.groupdict().get("label") or m.group(1 if m.re.groups else 0)) if m else "" for m in found
            ]
        return ["" for _ in files]

    def index(self) -> FileIndex:
        return require_every_class(self.labelled())

    def labelled(self) -> FileIndex:
        """The files and their labels, checked; a class may have none (a test set may lack one)."""
        root, (files, skipped) = self.data_root(), text_names(self.matches(), [])
        split = None
        if self.labels_from == LabelsFrom.csv:
            files, values, listed, splits = self.from_csv(files, root)
            skipped += listed
            split = np.array(splits, dtype=object)  # all "" without data.split_column
        elif self.split_column:
            raise RunnerError("data.split_column: comes from data.labels_csv; set data.labels_from=csv.")
        else:
            if self.labels_from != LabelsFrom.none:
                warn_pooled_splits(files, root)
            values = self.label_values(files)
        if self.labels_from == LabelsFrom.none:
            return check(
                FileIndex(files, np.full(len(files), -1, dtype=np.int32), [], skipped), self.check_first
            )
        multi = numbers = None
        if self.label_mode == LabelMode.regression:  # a number per image: no classes
            names, (numbers, labels, bad_labels) = [], numbers_of(values)
        elif self.label_mode == LabelMode.multi_hot:
            if self.labels_from != LabelsFrom.csv:
                raise RunnerError(
                    f"data.label_mode=multi_hot: reads several classes per image from a CSV's label "
                    f"cell, and data.labels_from={self.labels_from.value} gives one. Set "
                    f"data.labels_from=csv data.labels_csv=FILE."
                )
            cells = [classes_in(value, self.label_separator) for value in values]
            names, labels, multi = multi_labels_of(cells, self.class_names)
            warn_other_separator(names, self.label_separator)
            bad_labels = {}
        else:
            names, labels, bad_labels = labels_of(values, self.class_names)
        index = FileIndex(
            files, labels, names, skipped, split, multi=multi, separator=self.label_separator, numbers=numbers
        )
        return check(index.without(bad_labels), self.check_first)
