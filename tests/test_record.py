"""The data record a run logs, and what a resume compares with it."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import client

from runner import record
from runner.errors import RunnerError
from runner.sources import FileIndex


def test_data_changes_compares_the_files_with_those_the_run_logged(tmp_path):
    """Trained on a.png (cat) and b.png (dog); c.png was skipped as unreadable."""
    for name, content in {"a.png": b"aaaa", "b.png": b"bb", "c.png": b""}.items():
        (tmp_path / name).write_bytes(content)
    a, b, c, d = (str(tmp_path / name) for name in ("a.png", "b.png", "c.png", "d.png"))
    store = client(tmp_path)
    run_id = store.create_run(store.create_experiment("data")).info.run_id
    store.log_text(run_id, f"path,label,split,bytes\n{a},cat,train,4\n{b},dog,val,2\n", "data/split.csv")
    store.log_text(run_id, f"path,reason,bytes\n{c},empty file (0 bytes),0\n", "data/skipped.csv")

    def index(*rows: tuple[str, int]) -> FileIndex:
        return FileIndex([path for path, _ in rows], np.array([y for _, y in rows]), ["cat", "dog"])

    assert record.data_changes(store, run_id, index((a, 0), (b, 1))) == []
    assert record.data_changes(store, run_id, index((a, 0), (b, 1), (c, 0))) == []  # skipped then too
    (tmp_path / "d.png").write_bytes(b"d")
    assert record.data_changes(store, run_id, index((b, 0), (d, 1))) == [
        f"1 added (e.g. {d})",
        f"1 removed (e.g. {a})",
        f"1 relabelled (e.g. {b})",
    ]
    (tmp_path / "a.png").write_bytes(b"a new picture")
    (tmp_path / "c.png").write_bytes(b"mended")
    assert record.data_changes(store, run_id, index((a, 0), (b, 1), (c, 0))) == [
        f"1 rewritten (e.g. {a})",
        f"1 changed since they were skipped (e.g. {c})",
    ]
    nothing_logged = store.create_run(store.create_experiment("early")).info.run_id
    assert record.data_changes(store, nothing_logged, index((d, 1))) == []
    half_logged = store.create_run(store.create_experiment("killed while logging")).info.run_id
    store.log_text(half_logged, '{"class_names": ["cat", "dog"]}', "data/class_names.json")
    assert record.data_changes(store, half_logged, index((d, 1))) == []
    # Its record cut short in the store (a copy that stopped): said so, not taken for changed files.
    store.log_text(run_id, f"path,label,split,bytes\n{a},cat,train,4\n{b},do", "data/split.csv")
    with pytest.raises(RunnerError) as refused:
        record.data_changes(store, run_id, index((a, 0), (b, 1)))
    assert str(refused.value) == (
        f"run {run_id}'s data/split.csv: its line 3 has fields missing: the file was cut short or "
        f"edited in the store. Use another run, or train this one again: python -m runner.rerun {run_id}"
    )


def test_a_record_without_sizes_compares_paths_and_labels_only(tmp_path):
    """Runs logged before sizes were kept: their records still work, without the size check."""
    (tmp_path / "a.png").write_bytes(b"rewritten since")
    a = str(tmp_path / "a.png")
    store = client(tmp_path)
    run_id = store.create_run(store.create_experiment("old")).info.run_id
    store.log_text(run_id, f"path,label,split\n{a},cat,train\n", "data/split.csv")
    store.log_text(run_id, "path,reason\n", "data/skipped.csv")
    index = FileIndex([a], np.array([0]), ["cat", "dog"])
    assert record.data_changes(store, run_id, index) == []


def test_byte_identical_files_are_listed_with_what_they_mean(tmp_path, capsys):
    from types import SimpleNamespace

    paths = [tmp_path / name for name in ("a.png", "b.png", "c.png", "d.png", "e.png")]
    for path, content in zip(paths, [b"same", b"same", b"diff", b"same", b"othr"], strict=True):
        path.write_bytes(content)  # a, b, d: one image three times; c and e: the same size only
    index = FileIndex([str(p) for p in paths], np.array([0, 1, 0, 0, 1]), ["cat", "dog"])
    data = SimpleNamespace(index=index, split=np.array(["train", "val", "train", "train", "val"]))
    sizes = [record.size(str(p)) for p in paths]
    assert record.write_duplicates(data, sizes, tmp_path) == 2
    assert (tmp_path / "duplicates.csv").read_text().splitlines() == [
        "set,path,label,split",
        f"1,{paths[0]},cat,train",
        f"1,{paths[1]},dog,val",
        f"1,{paths[3]},cat,train",
    ]
    line = capsys.readouterr().err
    assert line.startswith(
        "runner: byte-identical files: 2 extra copies in 1 set; 1 under two labels, 1 in training"
    )
    distinct = FileIndex([str(paths[2]), str(paths[4])], np.array([0, 1]), ["cat", "dog"])
    data = SimpleNamespace(index=distinct, split=np.array(["train", "val"]))
    assert record.write_duplicates(data, [4, 4], tmp_path / "none") == 0


def test_a_dataset_another_job_inserts_meanwhile_is_logged_all_the_same(tmp_path):
    # Two jobs of a parallel sweep log the same dataset: this one checks that it is not in the store,
    # the other inserts it (here: a raw transaction held open), this one's insert then breaks the
    # store's unique key. The runner retries, and finds it there.
    import sqlite3
    import threading
    import time
    import uuid

    import mlflow
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = mlflow.set_experiment("runner").experiment_id
    started, inserting, outcome = threading.Event(), threading.Event(), {}

    def job() -> None:
        with mlflow.start_run() as run:
            started.set()
            inserting.wait()
            try:
                record.log_dataset(MetaDataset(CodeDatasetSource({"fn": "make"}), name="make", digest="d1"))
                outcome["inputs"] = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
            except Exception as err:  # reported by the assertion below
                outcome["error"] = err

    thread = threading.Thread(target=job)
    thread.start()
    started.wait()
    other = sqlite3.connect(tmp_path / "mlflow.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute(
        "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type,"
        " dataset_source) VALUES (?, ?, 'make', 'd1', 'code', '{}')",
        (uuid.uuid4().hex, int(experiment)),
    )
    inserting.set()
    time.sleep(1.5)  # this job has checked, and waits on the lock to insert
    other.execute("COMMIT")
    thread.join(60)
    assert "error" not in outcome, outcome.get("error")
    assert [i.dataset.name for i in outcome["inputs"]] == ["make"]
