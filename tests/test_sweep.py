"""A sweep as one MLflow run over its jobs' runs: k-fold cross-validation (experiment=cv), in parallel."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest
from conftest import client, error_lines, mlflow_runs, run_cli

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
