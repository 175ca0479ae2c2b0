"""A sweep as one MLflow run over its jobs' runs: k-fold cross-validation (experiment=cv), in
parallel; an interrupted sweep continued."""

from __future__ import annotations

import csv
import itertools
import shlex
import signal
import statistics
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from conftest import client, error_lines, mlflow_runs, run_cli, started_run

from runner.liveness import resuming

pytestmark = pytest.mark.slow


def test_cross_validation_in_parallel_jobs_validates_each_image_once_and_scores_the_mean(photos, tmp_path):
    result = run_cli(
        "-m",
        "experiment=cv",
        "data=dir",
        f"data.path={photos}",
        "data.folds=3",
        "data.fold=0,1,2,3",  # the command line's sweep wins over the preset's range(5); 3 is bad input
        "hydra/launcher=joblib",  # jobs in two worker processes at once
        "hydra.launcher.n_jobs=2",
        "data.image_size=[16,16]",
        "trainer.epochs=1",
        "tracking.log_model=false",
        cwd=tmp_path,
    )
    # The bad job fails alone, named from its worker process; the others run.
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = error_lines(result)
    assert lines[0].startswith("runner: error: job #3: data.fold=3: must be in 0..2")
    assert lines[-1] == "runner: error: job #3 of this sweep failed (each failed job's line is above)."
    jobs = [job for job in mlflow_runs(tmp_path) if job.info.status == "FINISHED"]
    assert sorted(job.data.params["data.fold"] for job in jobs) == ["0", "1", "2"]
    validated = []
    for job in jobs:
        split = client(tmp_path).download_artifacts(
            job.info.run_id, "data/split.csv", str(tmp_path / job.info.run_id)
        )
        with Path(split).open() as file:
            validated += [row["path"] for row in csv.DictReader(file) if row["split"] == "val"]
    every = sorted(str(p) for p in photos.rglob("*.*g"))
    assert sorted(validated) == every  # each image in exactly one fold's validation set
    [sweep] = [run for run in mlflow_runs(tmp_path, sweeps=True) if run.info.run_name == "sweep"]
    assert sweep.info.status == "FAILED"
    assert {job.data.tags["mlflow.parentRunId"] for job in jobs} == {sweep.info.run_id}
    # Each job's folder is in the sweep's, named with the sweep's process id, not its worker's.
    folder = Path(tmp_path, sweep.data.tags["runner.sweep_dir"])
    assert {Path(tmp_path, job.data.tags["runner.output_dir"]).parent for job in jobs} == {folder}
    scores = [job.data.metrics["final_val_accuracy"] for job in jobs]  # of the jobs that finished
    assert sweep.data.metrics["mean_val_accuracy"] == pytest.approx(statistics.fmean(scores))
    assert sweep.data.metrics["std_val_accuracy"] == pytest.approx(statistics.pstdev(scores))
    assert f"mean {statistics.fmean(scores):.4f}, std " in result.stderr


def test_an_interrupted_sweep_marks_the_jobs_its_workers_left_running_killed(tmp_path):
    # Ctrl-C with hydra/launcher=joblib: the workers go with the sweep's process, some before they
    # could end their run. Nothing runs on after the sweep, so those runs are KILLED, not RUNNING.
    import mlflow

    from runner.sweep import SweepRun

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")  # where the sweep's own client looks
    store = mlflow.MlflowClient()
    experiment = store.create_experiment("runner")
    sweep = SweepRun()
    parent = store.create_run(experiment, run_name="sweep").info.run_id
    sweep.parent, sweep.experiment, sweep.monitor = parent, experiment, "val_accuracy"
    nested = {"mlflow.parentRunId": parent}
    done, left = (store.create_run(experiment, tags=nested).info.run_id for _ in range(2))
    store.log_metric(done, "val_accuracy", 0.75)
    store.set_terminated(done, "FINISHED")
    sweep.finish(ended=False)
    assert [store.get_run(run).info.status for run in (done, left, parent)] == [
        "FINISHED",
        "KILLED",
        "KILLED",
    ]
    assert store.get_run(parent).data.tags["runner.best_run"] == done


def job_histories(cwd: Path) -> dict[str, dict]:
    """model.dense -> (metric -> the values of each epoch, in order) for the job runs in ``cwd``."""

    def values(run_id: str, name: str) -> list[float]:
        return [m.value for m in sorted(client(cwd).get_metric_history(run_id, name), key=lambda m: m.step)]

    names = ("loss", "val_loss", "val_accuracy")
    return {
        run.data.params["model.dense"]: {name: values(run.info.run_id, name) for name in names}
        for run in mlflow_runs(cwd)
    }


def test_an_interrupted_sweep_continues_where_it_stopped_with_the_metrics_of_one_never_stopped(tmp_path):
    sweep = ["-m", "model.dense=8,16,24", "trainer.epochs=3", "tracking.log_model=false"]
    sweep += ["hydra.sweep.dir=multirun/stopped"]  # Hydra's own: part of the sweep's command too
    process = started_run(*sweep, f"data.path={tmp_path / 'digits'}", cwd=tmp_path, job=1)
    process.send_signal(signal.SIGINT)  # Ctrl-C in job #1's second epoch
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output[-3000:]
    [sweep_run] = mlflow_runs(tmp_path, sweeps=True)
    sweep_id = sweep_run.info.run_id
    finished, killed = mlflow_runs(tmp_path)
    statuses = [finished.info.status, killed.info.status, sweep_run.info.status]
    assert statuses == ["FINISHED", "KILLED", "KILLED"]
    # Ctrl-C's line gives the command that continues the sweep: run as given.
    [line] = [line for line in output.splitlines() if line.startswith("runner: interrupted")]
    command = line.rsplit("; ", 1)[1].split(" continues the sweep")[0]
    assert command.startswith("python -m runner -m ") and command.endswith(f" tracking.resume={sweep_id}")
    assert " hydra.sweep.dir=multirun/stopped " in command
    # While another process of this machine continues it, a second continue is refused.
    with resuming(sweep_id):
        refused = run_cli(*shlex.split(command)[3:], cwd=tmp_path)
    assert refused.returncode == 2 and error_lines(refused) == [
        f"runner: error: run {sweep_id} is being resumed by another process on this machine. Let "
        f"it finish, or stop it and resume the run then."
    ]
    result = run_cli(*shlex.split(command)[3:], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    # Job #0 was not run again; job #1 went on in its run; job #2 ran; all under the sweep's run.
    assert f"run {finished.info.run_id} finished this job already (val_accuracy " in result.stdout
    runs = mlflow_runs(tmp_path)
    assert [run.info.run_id for run in runs[:2]] == [finished.info.run_id, killed.info.run_id]
    assert [run.info.status for run in runs] == ["FINISHED"] * 3
    assert [run.data.tags["runner.attempts"] for run in runs] == ["1", "2", "1"]
    assert {run.data.tags["mlflow.parentRunId"] for run in runs} == {sweep_id}
    # Named after its class in every job: Keras numbers each optimizer a process makes (adam_3).
    assert {run.data.params["optimizer_name"] for run in runs} == {"adam"}
    # The new job's run is made again by its own command, as the others', not by resuming the sweep.
    first_command = runs[0].data.tags["runner.command"]
    assert runs[2].data.tags["runner.command"] == first_command.replace("dense=8", "dense=24")
    [sweep_run] = mlflow_runs(tmp_path, sweeps=True)
    assert sweep_run.info.status == "FINISHED" and "3 job runs, by val_accuracy" in result.stderr
    # Each job's every epoch logged once; the interrupted one's, with the values of its job in a
    # sweep that was never interrupted.
    whole = tmp_path / "whole"
    whole.mkdir()
    never_stopped = [arg.replace("8,16,24", "16") for arg in sweep]
    assert run_cli(*never_stopped, f"data.path={tmp_path / 'digits'}", cwd=whole).returncode == 0
    assert job_histories(tmp_path)["16"] == job_histories(whole)["16"]
    assert all(len(values) == 3 for job in job_histories(tmp_path).values() for values in job.values())
    # A finished job is kept only for the config it ran: with other values each job is refused.
    result = run_cli(*shlex.split(command)[3:], "trainer.epochs=4", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    *jobs, summary = error_lines(result)
    assert jobs[0] == (
        f"runner: error: job #0: run {finished.info.run_id} finished this job with other values than it "
        f"has now: trainer.epochs (run: 3, now: 4). A resumed sweep continues the same config; for "
        f"these values, start a new sweep (drop tracking.resume)."
    )
    assert summary.startswith("runner: error: 3 jobs of this sweep failed")
    # ... and only on the files it trained on: with one of them gone, each job is refused.
    gone = sorted((tmp_path / "digits" / "7").iterdir())[0]
    gone.unlink()
    result = run_cli(*shlex.split(command)[3:], cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    *jobs, summary = error_lines(result)
    assert jobs[0] == (
        f"runner: error: job #0: run {finished.info.run_id} finished this job on other files than there "
        f"are now: 1 removed (e.g. {gone}). A resumed sweep continues on the same files: restore them, "
        f"or start a new sweep on these (drop tracking.resume)."
    )


def test_every_job_of_a_sweep_is_read_however_many_pages_it_takes(tmp_path):
    # MLflow's search gives 1,000 runs at a time: a longer study's ranking left jobs out, and its
    # continue ran finished jobs again. Pages of 2 here stand for pages of 1,000.
    import mlflow

    from runner.sweep import jobs_under

    store = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = store.create_experiment("runner")
    parent = store.create_run(experiment).info.run_id
    started = itertools.count(int(time.time() * 1000), 1000)
    jobs = [
        store.create_run(
            experiment, start_time=next(started), tags={"mlflow.parentRunId": parent}
        ).info.run_id
        for _ in range(5)
    ]
    store.create_run(experiment)  # no job of it
    assert sorted(run.info.run_id for run in jobs_under(store, experiment, parent, page=2)) == sorted(jobs)
    newest = jobs_under(store, experiment, parent, newest_first=True, page=2)
    assert [run.info.run_id for run in newest] == jobs[::-1]


def test_a_resumed_sweep_finds_each_jobs_run_and_ranks_a_job_refused_then_run_once(tmp_path, monkeypatch):
    # A job refused before its run started (record_refusal: no output folder) runs again when the
    # sweep is resumed; it is then ranked by its new run alone. Another job's run is found by its
    # number and overrides, whatever tracking.resume the resumed sweep adds to them; a job with the
    # same overrides and another number (an Optuna study drew them twice) is another job.
    import json

    import mlflow
    from omegaconf import OmegaConf

    from runner import liveness
    from runner.errors import RunnerError
    from runner.sweep import PARENT, SweepRun
    from runner.sweep_jobs import JOB_TAG
    from runner.sweep_resume import earlier_run, reopened

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    store = mlflow.MlflowClient()
    experiment = store.create_experiment("runner")
    parent = store.create_run(experiment, run_name="sweep", tags={"runner.sweep_dir": "multirun/x"})
    sweep_id = parent.info.run_id

    clock = itertools.count(int(time.time() * 1000), 1000)  # a second apart: an order to rank by

    def job(dense: int, status: str, started: bool, value: float | None = None, number: int = 0) -> str:
        tags = {"mlflow.parentRunId": sweep_id, "runner.overrides": json.dumps([f"model.dense={dense}"])}
        tags[JOB_TAG] = str(number or dense)
        if started:
            tags["runner.output_dir"] = f"multirun/x/{dense}"
        run_id = store.create_run(experiment, start_time=next(clock), tags=tags).info.run_id
        if value is not None:
            store.log_metric(run_id, "final_val_accuracy", value)
        store.set_terminated(run_id, status)
        return run_id

    refused = job(8, "FAILED", started=False)
    refused_first = job(16, "FAILED", started=False)
    never_ran = job(16, "FAILED", started=False)  # refused again by an earlier resume
    killed = job(32, "KILLED", started=True, value=0.25)
    monkeypatch.setenv(PARENT, sweep_id)
    tracking = OmegaConf.create({"uri": mlflow.get_tracking_uri(), "resume": sweep_id})
    assert earlier_run(tracking, ["model.dense=8", f"tracking.resume={sweep_id}"], 8) is None
    assert earlier_run(tracking, ["model.dense=32", f"tracking.resume={sweep_id}"], 32).info.run_id == killed
    assert earlier_run(tracking, ["model.dense=32"], 33) is None  # the same values drawn again
    again = job(8, "FINISHED", started=True, value=0.5)  # the refused job, run by the resumed sweep
    assert earlier_run(tracking, ["model.dense=8"], 8).info.run_id == again
    older = job(64, "KILLED", started=True)
    store.delete_tag(older, JOB_TAG)  # a run of a runner that did not number them: its overrides
    assert earlier_run(tracking, ["model.dense=64"], 5).info.run_id == older
    # The sweep's run is taken up again by this process, then ranked: one row per job.
    sweep = SweepRun()
    assert reopened(sweep_id, experiment, sweep.claim) == sweep_id
    run = store.get_run(sweep_id)
    assert run.info.status == "RUNNING" and liveness.state(run) == liveness.State.alive
    sweep.parent, sweep.experiment, sweep.monitor = sweep_id, experiment, "val_accuracy"
    sweep.finish(ended=True)  # and let go
    summary = Path(store.download_artifacts(sweep_id, "sweep/summary.csv", str(tmp_path))).read_text()
    rows = [line.split(",")[2:4] for line in summary.splitlines()[1:]]
    assert rows == [["FINISHED", again], ["KILLED", killed], ["KILLED", older], ["FAILED", never_ran]]
    assert refused not in summary and refused_first not in summary
    # Only a sweep's run resumes a sweep, and only one whose process is gone.
    alone = f"run {killed} is no sweep's run; .* python -m runner.rerun {killed} --resume"
    with pytest.raises(RunnerError, match=alone), ExitStack() as claim:
        reopened(killed, experiment, claim)
    with ExitStack() as claim:
        reopened(sweep_id, experiment, claim)
    with (
        pytest.raises(RunnerError, match=f"sweep run {sweep_id} is still running, in process "),
        ExitStack() as claim,
    ):
        reopened(sweep_id, experiment, claim)


@pytest.mark.parametrize(
    ("monitor", "best_first"), [("val_accuracy", [0.9, 0.7, 0.5]), ("val_mae", [0.5, 0.7, 0.9])]
)
def test_jobs_rank_best_first_and_an_error_is_best_lowest(monitor, best_first, tmp_path):
    from runner.sweep_jobs import ranked

    store = client(tmp_path)
    experiment = store.create_experiment("sweep")
    jobs = []
    for value in (0.7, 0.9, 0.5):
        run = store.create_run(experiment, tags={"runner.overrides": f'["model.dense={int(value * 10)}"]'})
        store.log_metric(run.info.run_id, f"final_{monitor}", value)
        store.set_terminated(run.info.run_id)
        jobs.append(store.get_run(run.info.run_id))
    rows = ranked(jobs, monitor, set())
    assert [row[1] for row in rows] == best_first and [row[0] for row in rows] == [1, 2, 3]
    assert rows[0][4] == f"model.dense={int(best_first[0] * 10)}"


def test_a_tie_goes_to_the_lower_loss_then_to_the_earlier_job(tmp_path):
    from runner.sweep_jobs import JOB_TAG, ranked

    store = client(tmp_path)
    experiment = store.create_experiment("sweep")
    jobs = []
    for number, loss in enumerate((0.30, 0.05, 0.05)):  # all three at val_accuracy 1.0
        tags = {"runner.overrides": f'["model.dense={number}"]', JOB_TAG: str(number)}
        run = store.create_run(experiment, tags=tags)
        store.log_metric(run.info.run_id, "final_val_accuracy", 1.0)
        store.log_metric(run.info.run_id, "final_val_loss", loss)
        store.set_terminated(run.info.run_id)
        jobs.append(store.get_run(run.info.run_id))
    for given in (jobs, jobs[::-1]):  # whatever order the store lists them in
        rows = ranked(given, "val_accuracy", set())
        assert [row[4] for row in rows] == ["model.dense=1", "model.dense=2", "model.dense=0"]


def test_an_optuna_search_left_unseeded_draws_what_trainer_seed_seeds(photos, tmp_path):
    # Optuna's sampler is unseeded unless given one: each such search drew other trials, and could
    # be neither repeated nor continued. It takes trainer.seed, as experiment=tune's sets one.
    import optuna

    result = run_cli(
        "-m",
        "hydra/sweeper=optuna",
        "hydra.sweeper.n_trials=1",
        "trainer.optimizer.learning_rate=interval(0.0001,0.01)",
        "trainer.seed=7",
        "data=dir",
        f"data.path={photos}",
        "data.image_size=[16,16]",
        "trainer.epochs=1",
        "tracking.log_model=false",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=7))
    drawn = study.ask({"rate": optuna.distributions.UniformDistribution(0.0001, 0.01)}).params["rate"]
    [job] = mlflow_runs(tmp_path)
    assert float(job.data.params["trainer.optimizer.learning_rate"]) == pytest.approx(drawn, rel=1e-12)
