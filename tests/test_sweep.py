"""A sweep as one MLflow run over its jobs' runs: here, k-fold cross-validation (experiment=cv)."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest
from conftest import client, mlflow_runs, run_cli

pytestmark = pytest.mark.slow


def test_cross_validation_validates_each_image_once_and_scores_the_mean(photos, tmp_path):
    result = run_cli(
        "-m",
        "experiment=cv",
        "data=dir",
        f"data.path={photos}",
        "data.folds=3",
        "data.fold=range(3)",  # the command line's sweep wins over the preset's range(5)
        "data.image_size=[16,16]",
        "trainer.epochs=1",
        "tracking.log_model=false",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = mlflow_runs(tmp_path)
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
    scores = [job.data.metrics["final_val_accuracy"] for job in jobs]
    assert sweep.data.metrics["mean_val_accuracy"] == pytest.approx(statistics.fmean(scores))
    assert sweep.data.metrics["std_val_accuracy"] == pytest.approx(statistics.pstdev(scores))
    assert f"mean {statistics.fmean(scores):.4f}, std " in result.stderr
