"""The data record a run logs, and what a resume compares with it."""

from __future__ import annotations

import numpy as np
from conftest import client

from runner import record
from runner.sources import FileIndex


def test_data_changes_compares_the_files_with_those_the_run_logged(tmp_path):
    """Trained on a.png (cat) and b.png (dog); c.png was skipped as unreadable."""
    store = client(tmp_path)
    run_id = store.create_run(store.create_experiment("data")).info.run_id
    store.log_text(run_id, "path,label,split\na.png,cat,train\nb.png,dog,val\n", "data/split.csv")
    store.log_text(run_id, "path,reason\nc.png,empty file (0 bytes)\n", "data/skipped.csv")

    def index(*rows: tuple[str, int]) -> FileIndex:
        return FileIndex([path for path, _ in rows], np.array([y for _, y in rows]), ["cat", "dog"])

    assert record.data_changes(store, run_id, index(("a.png", 0), ("b.png", 1))) == []
    assert (
        record.data_changes(store, run_id, index(("a.png", 0), ("b.png", 1), ("c.png", 0))) == []
    )  # skipped then, so not "added" now
    assert record.data_changes(store, run_id, index(("b.png", 0), ("d.png", 1))) == [
        "1 added (e.g. d.png)",
        "1 removed (e.g. a.png)",
        "1 relabelled (e.g. b.png)",
    ]
    nothing_logged = store.create_run(store.create_experiment("early")).info.run_id
    assert record.data_changes(store, nothing_logged, index(("d.png", 1))) == []
