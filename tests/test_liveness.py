"""Runs whose process died without a word (SIGKILL, out of memory) are closed by the next run here,
and a run whose process lives, or that another process resumes, is not resumed twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from conftest import client, error_lines, mlflow_runs, run_cli, started_run

from runner.liveness import TAG, close_dead_runs, process_tag, resuming, writing


def test_only_runs_whose_process_died_on_this_machine_are_closed(tmp_path):
    store = client(tmp_path)
    experiment = store.create_experiment("runner")
    me = json.loads(process_tag()[TAG])
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    folder, unreadable = tmp_path / "outputs", tmp_path / "unreadable"
    folder.mkdir()
    (folder / "runner.log").write_text("epoch 1/4\n")
    unreadable.mkdir()  # what it holds cannot be logged (on a full disk, nothing can)
    (unreadable / "last.keras").symlink_to(tmp_path / "gone.keras")

    def running(name: str, tags: dict[str, str] | None = None, **record: object) -> str:
        tags = {**(tags or {}), TAG: json.dumps({**me, **record})}
        return store.create_run(experiment, run_name=name, tags=tags).info.run_id

    runs = {
        "alive": running("alive"),  # this process
        "ended": running("ended", {"runner.output_dir": str(folder)}, pid=int(ended.stdout)),
        "unlogged": running("unlogged", {"runner.output_dir": str(unreadable)}, pid=int(ended.stdout)),
        "reused": running("reused", started=me["started"] - 60),  # this pid, another process before
        "elsewhere": running("elsewhere", machine="another-host", pid=int(ended.stdout)),
        "sweep": running(
            "sweep",
            {"runner.sweep_dir": "multirun/x", "runner.command": "python -m runner -m x=1,2"},
            pid=int(ended.stdout),
        ),
        "older": store.create_run(experiment, run_name="older").info.run_id,  # no tag: cannot tell
        "garbled": store.create_run(experiment, run_name="garbled", tags={TAG: "pid 12"}).info.run_id,
    }
    close_dead_runs(store, experiment, page=2)  # MLflow's pages of 2: every page is read
    status = {name: store.get_run(run_id).info.status for name, run_id in runs.items()}
    assert status == {
        "alive": "RUNNING",
        "ended": "KILLED",
        "unlogged": "KILLED",  # closed all the same, its files left where they are
        "reused": "KILLED",
        "elsewhere": "RUNNING",
        "sweep": "KILLED",
        "older": "RUNNING",
        "garbled": "RUNNING",
    }
    ended_run = store.get_run(runs["ended"])
    why = ended_run.data.tags["runner.error"]
    assert f"pid {int(ended.stdout)}" in why and f"python -m runner.rerun {runs['ended']} --resume" in why
    sweep_why = store.get_run(runs["sweep"]).data.tags["runner.error"]
    assert "--resume" not in sweep_why  # it has no model or backup: its jobs do
    assert sweep_why.endswith(f". python -m runner -m x=1,2 tracking.resume={runs['sweep']} continues it")
    assert [a.path for a in store.list_artifacts(runs["ended"], "outputs")] == ["outputs/runner.log"]
    assert (
        f"; its outputs stay in {unreadable} (logging them failed: "
        in store.get_run(runs["unlogged"]).data.tags["runner.error"]
    )


def test_a_run_killed_without_a_word_is_closed_by_the_next_run_here(tmp_path):
    digits = f"data.path={tmp_path / 'digits'}"
    process = started_run(digits, "trainer.epochs=500", "tracking.log_model=false", cwd=tmp_path)
    [orphan] = mlflow_runs(tmp_path)
    run_id = orphan.info.run_id
    process.send_signal(signal.SIGSTOP)  # alive still, but no longer taking a core from the test
    # While its process lives, a resume is refused: two processes would train one run.
    refused = run_cli(run_id, "--resume", cwd=tmp_path, module="runner.rerun")
    assert refused.returncode == 2
    assert f"still running, in process {process.pid} on this machine" in error_lines(refused)[0]
    process.kill()  # as the out-of-memory killer would: nothing of it can end its MLflow run
    process.wait()
    assert client(tmp_path).get_run(run_id).info.status == "RUNNING"
    result = run_cli(digits, "trainer.epochs=1", "tracking.log_model=false", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    orphan = client(tmp_path).get_run(run_id)
    assert orphan.info.status == "KILLED"
    assert f"python -m runner.rerun {run_id} --resume continues it" in orphan.data.tags["runner.error"]
    logged = {a.path for a in client(tmp_path).list_artifacts(run_id, "outputs")}
    assert {"outputs/runner.log", "outputs/backup", "outputs/checkpoints"} <= logged
    assert "outputs/.runner.lock" not in logged  # the lock it held on its folder
    # While another process of this machine resumes it, a second resume is refused: two started
    # together both found it stopped, and both trained on in it (each epoch logged twice).
    with resuming(run_id):
        refused = run_cli(run_id, "--resume", cwd=tmp_path, module="runner.rerun")
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert error_lines(refused) == [
        f"runner: error: run {run_id} is being resumed by another process on this machine. Let it "
        f"finish, or stop it and resume the run then."
    ]
    assert client(tmp_path).get_run(run_id).info.status == "KILLED"


def test_a_second_run_writing_one_output_folder_at_once_is_refused(tmp_path):
    # Two runs given one fixed hydra.run.dir at once each wrote over the other's checkpoints and
    # backup, and logged to MLflow what it found there: one's model as the other's.
    fixed = tmp_path / "fixed"
    with writing(fixed):  # as another process of this machine does, training there now
        refused = run_cli(f"data.path={tmp_path / 'digits'}", f"hydra.run.dir={fixed}", cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert error_lines(refused) == [
        f"runner: error: {fixed}: another run writes its checkpoints, backup and log there now. Give "
        f"each run its own folder (hydra.run.dir, or hydra.sweep.dir for a sweep; left unset, each run "
        f"gets a new one)."
    ]
    assert mlflow_runs(tmp_path) == []  # refused before its run began
    assert (fixed / ".runner.lock").is_file()  # in the folder: none piles up in the temp folder
