"""``data.labels_csv``: reading a labels CSV as people write them (commas, semicolons or tabs,
Excel's UTF-8 or not, Windows paths, paths relative to the wrong folder, images named by id alone
or by another machine's paths, files listed twice), for ``data=glob`` and for ``runner.evaluate``'s
CSV."""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from runner.errors import RunnerError
from runner.schemas.data import IMAGE_EXTENSIONS
from runner.sources.index import named_as_image
from runner.sources.roots import composed
from runner.words import closest, closest_path, some

log = logging.getLogger(__name__)
# What a CSV's path cell ends in (a header cell that does is a row: the file has no header line).
CELL_IMAGES = (*IMAGE_EXTENSIONS, "tif", "tiff")  # scans too (data.extensions=[tif,tiff])
DECIMAL_COMMA = re.compile(r"^(\s*[+-]?\d+),(\d+\s*)$")  # 12,5 (not 1,234.5, nor 1.234,5)


def read_csv(
    path: Path, columns: dict[str, str], by_name: ByName | None = None, numbers: str | None = None
) -> list[dict[str, str]]:
    """Rows of ``path``, separated by commas, semicolons or tabs (whichever its header line has
    most of); a missing column is an error that names the setting (``columns``: setting -> column,
    the paths' and the labels' first), the columns the file has, and those it may mean. In a file
    separated by semicolons, the decimal mark of the ``numbers`` column's cells is a comma (Excel's
    CSV where the decimal mark is one: ``a.jpg;12,5``): written as a point."""
    if not path.is_file():
        raise RunnerError(f"data.labels_csv: '{path}' does not exist.{closest_path(path)}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:  # Excel's plain "CSV" on Windows is cp1252, not UTF-8
        line = data[: err.start].count(b"\n") + 1
        raise RunnerError(
            f"'{path}': not UTF-8 text (byte 0x{err.object[err.start]:02x} on line {line}). Save it as "
            f'UTF-8 (Excel: "CSV UTF-8"), or convert it: iconv -f cp1252 -t utf-8 {path.name} > utf8.csv'
        ) from err
    header = text.partition("\n")[0]
    # Excel writes ";" where the decimal mark is a comma (most of Europe); "\t" for tab-separated.
    delimiter = max(",;\t", key=header.count)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    # A header written by hand as "path, label": its columns are "path" and "label".
    reader.fieldnames = found = [name.strip() for name in reader.fieldnames or []]
    rows = list(reader)
    for key, column in columns.items():
        if column in found:
            continue
        if any(names_an_image(name) for name in found):  # a header of file names: a row
            raise RunnerError(
                f"{key}={column}: '{path}' has no header line: its first line ({header.strip()!r}) "
                f"is a row. Add one above it: {delimiter.join(columns.values())}"
            )
        meant = closest(column, found) or meant_columns(columns, found, rows[0] if rows else {}, by_name)
        raise RunnerError(
            f"{key}={column}: no such column in '{path}'.{meant} Set {key} to one of its columns: "
            f"{', '.join(found)}."
        )
    if numbers and delimiter == ";":
        for row in rows:
            row[numbers] = DECIMAL_COMMA.sub(r"\1.\2", row[numbers] or "")
    return rows


def meant_columns(columns: dict[str, str], found: list[str], first: dict, by_name: ByName | None) -> str:
    """' Its images are in 'id' and its labels are in 'breed': data.path_column=id data.label_column=breed.'
    for the settings whose column is not there: the images' column is the one whose first row
    names an image (or, by name alone, a file of ``by_name``); the labels' the one column left."""
    (path_key, path_given), (label_key, label_given) = list(columns.items())[:2]

    def names_a_file(column: str) -> bool:
        cell = (first.get(column) or "").strip()
        return names_an_image(cell) or bool(by_name and by_name.of(cell))

    path = path_given if path_given in found else next((c for c in found if names_a_file(c)), "")
    others = [column for column in found if column != path]
    label = label_given if label_given in found else (others[0] if path and len(others) == 1 else "")
    fixes = [
        (key, column, words)
        for key, given, column, words in (
            (path_key, path_given, path, f"its images are in '{path}'"),
            (label_key, label_given, label, f"its labels are in '{label}'"),
        )
        if given not in found and column
    ]
    if not fixes:
        return ""
    said = " and ".join(words for _, _, words in fixes)
    return f" {said[0].upper()}{said[1:]}: {' '.join(f'{key}={column}' for key, column, _ in fixes)}."


def names_an_image(value: str) -> bool:
    return named_as_image(value.strip(), CELL_IMAGES)


def refuse_cwd_relative(rows: list[dict[str, str]], column: str, csv_path: Path) -> None:
    """No row's file is where the CSV says, relative to its own folder: if they are there relative
    to the working directory instead (``photos/cat/1.jpg`` in ``photos/labels.csv``), say so."""
    written = [row[column].strip() for row in rows[:100]]
    if any(Path(p).is_file() and not listed_path(csv_path.parent, p).is_file() for p in written):
        raise RunnerError(
            f"data.labels_csv={csv_path}: its paths are read relative to its own folder "
            f"({csv_path.parent}), and none of its files is there; they are relative to the working "
            f"directory. Write them relative to the CSV's folder (e.g. "
            f"{os.path.relpath(Path(written[0]).resolve(), csv_path.parent)}), or move the CSV."
        )


class ByName:
    """The files a CSV may name without their place here: by name or stem alone, as Kaggle's do
    by an id column (``0a1b`` for ``train/0a1b.jpg``); by where they were on the machine that
    wrote it (``C:\\data\\train\\cat\\1.jpg``, ``/home/ana/pets/cat/1.jpg``: the file here whose
    path ends the same way); or in another case than the file's, as a CSV written on Windows, whose
    file names are not case-sensitive, may (``Cat/IMG_1.jpg`` for ``cat/IMG_1.JPG``), or its accents
    composed otherwise (macOS writes ``é`` as ``e`` and an accent, most others as one). The files are
    ``data.pattern``'s matches, or the images under an evaluated CSV's folder, listed on first use;
    ``found`` holds each (cell, file) so found."""

    def __init__(self, files: Callable[[], Iterable[str]]) -> None:
        self.files = files
        self.names: dict[str, list[str]] = {}  # name and stem, folded -> files
        self.paths: dict[str, list[str]] = {}  # path, folded -> files
        self.found: list[tuple[str, str]] = []

    def of(self, written: str, path: Path | None = None) -> list[str]:
        """The files that ``written`` names, in any case: a relative path with folders, the file
        at ``path`` (where it points, relative to the CSV); a bare name or stem; another machine's
        absolute path, by as many of its last parts as tell one file from the others (all that
        fit, if none does)."""
        if not self.paths:
            for file in self.files():
                self.paths.setdefault(folded(file), []).append(file)
                for name in dict.fromkeys((folded(Path(file).name), folded(Path(file).stem))):
                    self.names.setdefault(name, []).append(file)
        parts = [folded(part) for part in re.split(r"[\\/]", written)]
        if len(parts) > 1 and not re.match(r"^([A-Za-z]:)?[\\/]", written):
            return self.paths.get(folded(str(path)), []) if path else []
        found = self.names.get(parts[-1], [])
        for last in range(2, len(parts)):  # more of its last parts while several files fit
            ending = [f for f in found if [folded(p) for p in Path(f).parts[-last:]] == parts[-last:]]
            if len(found) == 1 or not ending:
                break
            found = ending
        return found


def folded(text: str) -> str:
    """``text`` as ``ByName`` compares names: accents composed (NFC), in no case."""
    return composed(text).casefold()


def listed_path(folder: Path, written: str, by_name: ByName | None = None) -> Path:
    """A CSV's path, relative to the CSV's folder. A CSV written on Windows has backslashes, which
    are no separator here: if no file has the path as written, its '/' form is the one meant. A
    bare name or id, another machine's absolute path, or a path in another case, that names no
    file here is the one file of ``by_name`` it names, if one."""
    path = (folder / written).resolve()
    if "\\" in written and not path.exists():
        path = (folder / written.replace("\\", "/")).resolve()
    if by_name and not path.exists() and len(found := by_name.of(written, path)) == 1:
        by_name.found.append((written, found[0]))
        return Path(found[0])
    return path


def not_there(written: str, path: Path, by_name: ByName, csv_name: str) -> str:
    """Why a row's file (at ``path``, relative to the CSV) was not found: none is there, or its
    name names several."""
    if len(found := by_name.of(written, path)) > 1:
        return (
            f"'{written}' in {csv_name} names {len(found)} files ({some(found, most=2)}): write its "
            f"path, relative to the CSV"
        )
    return f"listed in {csv_name} but the file does not exist"


def unique_rows(entries: dict[str, list[tuple[str, str]]]) -> Iterator[tuple[str, tuple[str, str], str]]:
    """(path, (label, split), why it is left out or '') once per file the CSV lists.

    A file listed twice would be trained on twice, or land in both the training and the
    validation split (a leak): repeats that agree count once, and a file whose rows disagree on
    its label or split is left out, since which row is right is not ours to guess."""
    repeated = [path for path, rows in entries.items() if len(rows) > 1 and len(set(rows)) == 1]
    if repeated:
        log.warning(
            "data.labels_csv lists %d files more than once (e.g. %s); each is used once",
            len(repeated),
            repeated[0],
        )
    for path, rows in entries.items():
        labels, splits = (list(dict.fromkeys(column)) for column in zip(*rows, strict=True))
        if len(labels) > 1:
            yield path, rows[0], f"different labels in data.labels_csv: {', '.join(labels)}; keep one row"
        elif len(splits) > 1:
            yield path, rows[0], f"different splits in data.split_column: {', '.join(splits)}; keep one row"
        else:
            yield path, rows[0], ""
