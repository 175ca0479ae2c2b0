"""Runs in MLflow: on a real ``mlflow server`` on 127.0.0.1 started by the test, and in sqlite stores."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import free_port, run_cli, started_run


class Server:
    """``mlflow server`` with its own sqlite store and artifact folder in ``folder``, on a free port."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.uri, self.process = folder, f"http://127.0.0.1:{free_port()}", None
        folder.mkdir()

    def start(self) -> None:
        """Start it, and return once it answers."""
        mlflow = Path(sys.executable).with_name("mlflow")
        # One worker, and no job runners (MLflow's server-side jobs, e.g. GenAI scorers: seven
        # processes): each imports MLflow's server app, seconds of CPU for nothing a run uses.
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.process = subprocess.Popen(
            [mlflow, "server", "--backend-store-uri", "sqlite:///server.db", "--host", "127.0.0.1",
             "--port", self.uri.rpartition(":")[2], "--workers", "1"],
            cwd=self.folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{self.uri}/health", timeout=2).close()
                return
            except OSError:
                assert self.process.poll() is None and time.monotonic() < deadline, (
                    "mlflow server did not start"
                )
                time.sleep(0.5)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the server and its workers
            self.process.wait(timeout=30)


@pytest.fixture
def server(tmp_path):
    started = Server(tmp_path / "server")
    try:
        started.start()
        yield started
    finally:
        started.stop()


def test_a_sweep_on_a_real_mlflow_server_that_went_away_says_so_and_its_job_resumes_there(
    server, tmp_path, monkeypatch
):
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "1")  # the run is short
    # MLflow's client retries a refused connection for about four minutes before it gives up.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    args = (f"data.path={tmp_path / 'digits'}", "trainer.epochs=3", "tracking.system_metrics=true")
    # Two jobs; the server goes away after the first one's first epoch.
    sweep = ("-m", *args, "trainer.seed=1,2", f"tracking.uri={server.uri}")
    process = started_run(*sweep, cwd=tmp_path)
    process.send_signal(signal.SIGSTOP)
    server.stop()  # ... a restart, a crash, a network outage
    process.send_signal(signal.SIGCONT)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 2 and "Traceback" not in output
    error = "runner: error: "
    lost, refused, failed, unended = [
        line.removeprefix(error) for line in output.splitlines() if line.startswith(error)
    ]
    assert lost.startswith(f"job #0: tracking.uri={server.uri}: the MLflow server stopped answering")
    assert refused.startswith(f"job #1: tracking.uri={server.uri}: no MLflow server answers there")
    assert failed == "2 jobs of this sweep failed (#0, #1; each one's line is above)."
    assert unended.startswith("the sweep's run ") and "could not be ranked or ended in MLflow" in unended
    # Job #0 alone continues with its own command; the sweep, job #1 too, with the sweep's.
    resume = lost.rpartition("once the server answers again, ")[2].removesuffix(" continues it.")
    assert resume.startswith("python -m runner.rerun ") and resume.endswith(
        f"--resume tracking.uri={server.uri}"
    )
    resume_sweep = unended.rpartition("Once the store answers, ")[2].removesuffix(" continues the sweep.")
    assert resume_sweep.startswith("python -m runner -m ") and " tracking.resume=" in resume_sweep

    server.start()  # the same store, at the same address
    result = run_cli(*shlex.split(resume_sweep)[3:], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    # The command that repeats or continues job #0, named as its run starts, says where its store is.
    assert resume.replace("--resume", "[--resume]") + " repeats" in result.stdout + result.stderr
    client = MlflowClient(server.uri)
    sweep_run, run, new_job = sorted(
        client.search_runs([client.get_experiment_by_name("runner").experiment_id]),
        key=lambda found: (found.info.run_name != "sweep", found.info.start_time),
    )
    assert sweep_run.info.status == "FINISHED" and new_job.info.status == "FINISHED"
    assert new_job.data.tags["mlflow.parentRunId"] == sweep_run.info.run_id
    assert run.info.status == "FINISHED" and run.data.tags["runner.attempts"] == "2"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")] == [0, 1, 2]
    assert run.data.metrics["final_val_accuracy"] > 0.5
    assert 0 < run.data.metrics["system/cpu_utilization_percentage"] <= 100
    logged = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "data", "eval", "outputs"} <= logged
    assert not (tmp_path / "mlflow.db").exists()  # nothing went to the default local store


def test_the_recorded_command_is_quoted_for_a_shell():
    import shlex

    from conftest import compose

    from runner.tracking import command

    overrides = [
        "data=glob",
        "data.pattern=photos/**/*.jpg",
        "data.image_size=[16,16]",
        'data.label_regex="^(x)"',
    ]
    line = command(compose("data=glob", "data.pattern=photos/**/*.jpg"), overrides)
    assert line.startswith(
        "python -m runner data=glob 'data.pattern=photos/**/*.jpg' 'data.image_size=[16,16]'"
    )
    assert shlex.split(line)[3:] == overrides  # what a shell hands back to python -m runner


def test_a_full_disk_is_one_line_and_a_store_failing_too_does_not_hide_it(tmp_path, monkeypatch, caplog):
    from conftest import compose, empty_store

    from runner import tracking
    from runner.errors import explain

    with pytest.raises(OSError) as full, open("/dev/full", "w") as device:  # ENOSPC, as the OS says it
        device.write("x")
    assert explain(full.value).startswith("the disk is full: no space left. Free some, or write elsewhere")
    store = sqlite3.connect(tmp_path / "small.db")
    store.execute("PRAGMA max_page_count=2")  # sqlite's own words for a full disk
    with pytest.raises(sqlite3.OperationalError) as store_full:
        store.execute("CREATE TABLE t (x)")
        store.executemany("INSERT INTO t VALUES (?)", [(bytes(4000),)] * 8)
    assert explain(store_full.value).startswith("the disk is full: no space left for the MLflow store")
    # A run that stops on it while its store fails too: the run's error comes out, not the store's.
    monkeypatch.chdir(tmp_path)  # MLflow keeps the store of a URI once made: this one is this test's
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    shutil.copy(empty_store(), tmp_path / "mlflow.db")
    (tmp_path / "outputs" / "runner.log").parent.mkdir()
    (tmp_path / "outputs" / "runner.log").write_text("the job's log\n")
    with (
        pytest.raises(OSError) as raised,
        tracking.run(compose(f"tracking.uri={uri}"), tmp_path / "outputs", []),
    ):
        (tmp_path / "mlflow.db").write_bytes(bytes(100_000))  # the store broken under the run
        raise full.value
    assert raised.value is full.value
    unrecorded = [r.getMessage() for r in caplog.records if r.getMessage().startswith("MLflow could not")]
    assert unrecorded and all("\n" not in line for line in unrecorded)  # not sqlalchemy's SQL too


def test_a_finished_job_whose_outputs_cannot_be_logged_ends_its_run_failed(tmp_path, monkeypatch):
    from conftest import client, compose, empty_store

    from runner import tracking

    monkeypatch.chdir(tmp_path)  # MLflow keeps the store of a URI once made: this one is this test's
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    shutil.copy(empty_store(), tmp_path / "mlflow.db")
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "gone.keras").symlink_to(tmp_path / "deleted.keras")  # nothing to copy
    with (
        pytest.raises(OSError),
        tracking.run(compose(f"tracking.uri={uri}"), tmp_path / "outputs", []) as run_id,
    ):
        pass  # the job finished
    assert client(tmp_path).get_run(run_id).info.status == "FAILED"  # not FINISHED by MLflow's exit
