"""Runs whose process died without a word (SIGKILL, out of memory) are closed by the next run here."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import client

from runner.liveness import TAG, close_dead_runs, process_tag


def test_only_runs_whose_process_died_on_this_machine_are_closed(tmp_path):
    store = client(tmp_path)
    experiment = store.create_experiment("runner")
    me = json.loads(process_tag()[TAG])
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    folder = tmp_path / "outputs"
    folder.mkdir()
    (folder / "runner.log").write_text("epoch 1/4\n")

    def running(name: str, tags: dict[str, str] | None = None, **record: object) -> str:
        tags = {**(tags or {}), TAG: json.dumps({**me, **record})}
        return store.create_run(experiment, run_name=name, tags=tags).info.run_id

    runs = {
        "alive": running("alive"),  # this process
        "ended": running("ended", {"runner.output_dir": str(folder)}, pid=int(ended.stdout)),
        "reused": running("reused", started=me["started"] - 60),  # this pid, another process before
        "elsewhere": running("elsewhere", machine="another-host", pid=int(ended.stdout)),
        "sweep": running("sweep", {"runner.sweep_dir": "multirun/x"}, pid=int(ended.stdout)),
        "older": store.create_run(experiment, run_name="older").info.run_id,  # no tag: cannot tell
        "garbled": store.create_run(experiment, run_name="garbled", tags={TAG: "pid 12"}).info.run_id,
    }
    close_dead_runs(store, experiment)
    status = {name: store.get_run(run_id).info.status for name, run_id in runs.items()}
    assert status == {
        "alive": "RUNNING",
        "ended": "KILLED",
        "reused": "KILLED",
        "elsewhere": "RUNNING",
        "sweep": "KILLED",
        "older": "RUNNING",
        "garbled": "RUNNING",
    }
    ended_run = store.get_run(runs["ended"])
    why = ended_run.data.tags["runner.error"]
    assert f"pid {int(ended.stdout)}" in why and f"python -m runner.rerun {runs['ended']} --resume" in why
    assert "--resume" not in store.get_run(runs["sweep"]).data.tags["runner.error"]
    assert [a.path for a in store.list_artifacts(runs["ended"], "outputs")] == ["outputs/runner.log"]
