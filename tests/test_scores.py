"""What predictions on labelled images are logged as: a multi-label model's tuned thresholds, the
commonest mistakes."""

from __future__ import annotations

import csv
from pathlib import Path

import mlflow
import numpy as np
import pytest


def test_each_class_gets_the_threshold_with_its_best_f1_nearest_0_5_and_none_without_images(tmp_path):
    from runner.scores import log_thresholds

    # 'rare': its images score 0.2-0.3, the others 0.1 (best at 0.15-0.2: 0.2 is nearest 0.5);
    # 'clear': any threshold from 0.05 to 0.9 separates (0.5 kept); 'absent': no image has it.
    truth = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 0], [0, 0, 0]])
    probabilities = np.array([[0.2, 0.95, 0.7], [0.3, 0.91, 0.7], [0.1, 0.02, 0.7], [0.1, 0.01, 0.7]])
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = mlflow.MlflowClient().create_experiment("scores")  # not the process's last one
    with mlflow.start_run(experiment_id=experiment) as run:
        macro = log_thresholds(["rare", "clear", "absent"], truth, probabilities)
    table = mlflow.MlflowClient().download_artifacts(run.info.run_id, "eval/thresholds.csv", str(tmp_path))
    rows = {row["class"]: row for row in csv.DictReader(Path(table).read_text().splitlines())}
    assert {name: row["threshold"] for name, row in rows.items()} == {
        "rare": "0.20",
        "clear": "0.50",
        "absent": "0.50",
    }
    assert (
        rows["rare"]["f1"] == "1.0000"
        and rows["rare"]["f1_at_0.5"] == "0.0000"
        and rows["rare"]["support"] == "2"
    )
    assert macro == pytest.approx(1.0)  # over the classes with images: 'absent' has none to score


def test_the_commonest_mistakes_are_named_commonest_first():
    from runner.scores import most_confused

    matrix = np.array([[5, 1, 0], [0, 7, 3], [2, 0, 4]])  # rows true, columns predicted
    said = most_confused(matrix, ["cat", "dog", "owl"])
    assert said == "'dog' taken for 'owl' 3 times, 'owl' for 'cat' 2 times, 'cat' for 'dog' 1 time"
    assert most_confused(np.eye(3, dtype=int) * 4, ["cat", "dog", "owl"]) == ""  # none wrong
