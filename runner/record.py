"""What a run is made of, recorded so that it can be read and run again.

The data: which files a run trained on, with which labels and split, and which it skipped and
why; logged as the run's ``data/`` artifacts (and an MLflow dataset) before ``fit``, and read back
by ``python -m runner.rerun ID --resume``, which refuses to continue on other files. The code
and the machine it ran on are ``runner/provenance.py``'s.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from runner.errors import RunnerError
from runner.sources.index import identical
from runner.words import counted

if TYPE_CHECKING:  # TensorFlow stays unimported for `python -m runner.rerun ... --cfg job`
    from runner.prepare import Prepared
    from runner.sources import FileIndex


def csv_rows(path: Path, run_id: str, name: str) -> list[dict[str, str]]:
    """The rows of CSV artifact ``name`` of run ``run_id``, downloaded to ``path``. A row with fields
    missing is a file cut short in the store (a copy that stopped, a disk error): said so, rather
    than taken for files that changed, or a traceback."""
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    if line := next((n for n, row in enumerate(rows, 2) if None in row.values()), None):
        raise RunnerError(
            f"run {run_id}'s {name}: its line {line} has fields missing: the file was cut short or "
            f"edited in the store. Use another run, or train this one again: python -m runner.rerun {run_id}"
        )
    return rows


def csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def log_data(data: Prepared, output_dir: Path) -> None:
    """What was trained on (``write_data``), logged as the run's ``data/`` artifacts, its counts
    as params and the training files as an MLflow dataset."""
    import mlflow  # seconds to import: not for runner.check, which writes these files only

    folder = output_dir / "data"
    counts = write_data(data, folder)
    mlflow.log_artifacts(str(folder), "data")
    log_input(data.index)
    mlflow.log_params(counts)


def write_data(data: Prepared, folder: Path) -> dict[str, int]:
    """Classes, per-file split and size, skipped files and why, byte-identical files, counts per
    class and split, written to ``folder``; the counts as ``data.count.*`` params."""
    index = data.index
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "class_names.json").write_text(json.dumps({"class_names": index.class_names}, indent=2))
    sizes = [size(p) for p in index.paths]
    (folder / "split.csv").write_text(
        csv_text(
            ["path", "label", "split", "bytes"],
            (
                (p, index.label_names(i), s, n)
                for i, (p, s, n) in enumerate(zip(index.paths, data.split, sizes, strict=True))
            ),
        )
    )
    copies = write_duplicates(data, sizes, folder)
    (folder / "skipped.csv").write_text(skipped_csv(index.skipped))
    parts = data.parts
    if index.numbers is None:
        (folder / "class_counts.csv").write_text(csv_text(["class", *parts], class_counts(data, parts)))
    else:
        (folder / "numbers.csv").write_text(csv_text(NUMBER_COLUMNS, number_summary(data, parts)))
    if index.skipped:
        print(f"runner: {index.summary()}; each is listed in {folder / 'skipped.csv'}", file=sys.stderr)
    return {
        **{f"data.count.{s}": int(np.sum(data.split == s)) for s in parts},
        "data.count.skipped": len(index.skipped),
        "data.count.capped": index.capped,  # good images left out by data.max_per_class
        "data.count.duplicates": copies,
        "data.num_classes": len(index.class_names),
    }


def class_counts(data: Prepared, parts: tuple[str, ...]) -> list[list]:
    """Per class its name and image count in each of the splits ``parts``."""
    members = data.index.members
    return [
        [name, *(int(np.sum(members[:, i] & (data.split == s))) for s in parts)]
        for i, name in enumerate(data.index.class_names)
    ]


NUMBER_COLUMNS = ["split", "images", "mean", "std", "min", "q25", "median", "q75", "max"]


def number_summary(data: Prepared, parts: tuple[str, ...]) -> list[list]:
    """A regression's ``class_counts``: per split its images and their numbers' spread, which
    the split keeps alike (a validation set of only low values would score nothing else)."""
    rows: list[list] = []
    for part in parts:
        numbers = data.index.numbers[data.split == part]
        if not len(numbers):
            rows.append([part, 0, *[""] * (len(NUMBER_COLUMNS) - 2)])
            continue
        spread = [numbers.mean(), numbers.std(), *np.percentile(numbers, [0, 25, 50, 75, 100])]
        rows.append([part, len(numbers), *(f"{value:.7g}" for value in spread)])
    return rows


def write_duplicates(data: Prepared, sizes: list[int | str], folder: Path) -> int:
    """``duplicates.csv``: the sets of byte-identical files, and how many extra copies there are.

    A copy under two labels contradicts itself; one in training and in validation (or test)
    makes that score count images the model trained on. Said, not changed: which copy to keep
    is the user's call, and a run trains on what its folder holds."""
    index = data.index
    groups = identical(index.paths, sizes)
    if not groups:
        return 0
    rows = (
        (n, index.paths[i], index.label_names(i), data.split[i])
        for n, group in enumerate(groups, 1)
        for i in group
    )
    (folder / "duplicates.csv").write_text(csv_text(["set", "path", "label", "split"], rows))
    labels = sum(len({index.label_names(i) for i in group}) > 1 for group in groups)
    leaks = sum("train" in (parts := {data.split[i] for i in group}) and len(parts) > 1 for group in groups)
    copies = sum(len(group) - 1 for group in groups)
    print(
        f"runner: byte-identical files: {counted(copies, 'extra copy', 'extra copies')} in "
        f"{counted(len(groups), 'set')}; {labels} under "
        f"two labels, {leaks} in training and in validation/test (which inflates those scores); each "
        f"is listed in {folder / 'duplicates.csv'}",
        file=sys.stderr,
    )
    return copies


def skipped_csv(skipped: Iterable[tuple[str, str]]) -> str:
    """``skipped.csv``: each file left out, why, and its size (which a resume compares)."""
    return csv_text(["path", "reason", "bytes"], ((path, why, size(path)) for path, why in skipped))


def size(path: str) -> int | str:
    """A file's size in bytes, which a resume compares; '' for a generator's array (no file)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return ""


def log_input(index: FileIndex) -> None:
    """The training data as an MLflow dataset: its source and a digest of its (path, label) pairs."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    h = hashlib.sha256()
    # The class numbers, as single-label runs always hashed them; the classes of a multi-label
    # one, the numbers of a regression.
    single = index.multi is None and index.numbers is None
    labels = index.labels.tolist() if single else map(index.label_names, range(len(index)))
    for path, label in zip(index.paths, labels, strict=True):
        h.update(f"{path}\0{label}\n".encode())
    if index.arrays is None:
        root = os.path.commonpath(index.paths)
        with warnings.catch_warnings():  # MLflow warns that two registered sources match a path
            warnings.simplefilter("ignore")
            source = resolve_dataset_source(root)
        name = Path(root).name
    else:
        name = index.paths[0].rpartition("[")[0]
        source = CodeDatasetSource({"fn": name})
    log_dataset(MetaDataset(source, name=name, digest=h.hexdigest()[:16]))


# How a database says that a row with the same unique key is there already (SQLite, PostgreSQL, MySQL).
DUPLICATE_KEY = ("UNIQUE constraint failed", "duplicate key value", "Duplicate entry")


def log_dataset(dataset: Any) -> None:
    """``dataset`` as the active run's training input. Parallel jobs (hydra/launcher=joblib) that
    log the same new dataset race to insert it: MLflow's store checks, then inserts, and its unique
    key fails the later insert. Once the dataset is there, logging it works: that error is retried."""
    import mlflow
    from mlflow.exceptions import MlflowException

    for attempt in range(3):
        try:
            mlflow.log_input(dataset, context="training")
            return
        except MlflowException as err:
            if attempt == 2 or not any(word in str(err) for word in DUPLICATE_KEY):
                raise


def data_changes(store: Any, run_id: str, index: FileIndex) -> list[str]:
    """How the files in ``index`` differ from those run ``run_id`` logged in ``data/split.csv``
    (trained on, with labels and sizes) and ``data/skipped.csv``; empty if the same, or nothing
    was logged. A size that changed means a file rewritten, or a skipped one perhaps mended (it
    would be trained on now); a rewrite that keeps the size is not seen."""
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as folder:
        try:
            logged = Path(store.download_artifacts(run_id, "data", folder))
        except (MlflowException, OSError):
            return []  # it failed before its data were read: nothing was trained on yet
        if not ((logged / "split.csv").exists() and (logged / "skipped.csv").exists()):
            return []  # killed while logging them, before fit: nothing was trained on yet
        trained, skipped = (
            {row["path"]: row for row in csv_rows(logged / name, run_id, f"data/{name}")}
            for name in ("split.csv", "skipped.csv")
        )
    now = {path: index.label_names(i) for i, path in enumerate(index.paths)}

    def resized(rows: dict[str, dict]) -> list[str]:  # runs logged before sizes were kept have none
        return [p for p in now if p in rows and rows[p].get("bytes") not in (None, "", str(size(p)))]

    found = {
        "added": [path for path in now if path not in trained and path not in skipped],
        "removed": [path for path in trained if path not in now],
        "relabelled": [path for path in now if path in trained and trained[path]["label"] != now[path]],
        "rewritten": resized(trained),
        "changed since they were skipped": resized(skipped),
    }
    return [f"{len(paths)} {what} (e.g. {paths[0]})" for what, paths in found.items() if paths]
