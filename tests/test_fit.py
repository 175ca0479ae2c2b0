"""runner.fit: TensorFlow's retracing warning, and what a run does with several classes per image,
and with a number per image."""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import client, logged_model


def test_tensorflows_retracing_warning_for_each_jobs_new_model_is_not_shown():
    # As a sweep's jobs in one process do: a new model each, whose predict function is traced anew.
    # TensorFlow warns twice per process at most, so each case is a fresh one.
    script = (
        "import numpy as np, keras\n"
        "for _ in range(6):\n"
        "    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])\n"
        "    model.predict(np.zeros((4, 3), 'float32'), verbose=0)\n"
    )
    for first, warned in (("", True), ("import runner.fit\n", False)):  # the control, then the runner
        result = subprocess.run([sys.executable, "-c", first + script], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        assert ("triggered tf.function retracing" in result.stderr) == warned


def test_several_classes_per_image_train_a_sigmoid_each_and_are_scored_per_class(multi_trained):
    cwd, run_id, truth = multi_trained
    store = client(cwd)
    run = store.get_run(run_id)
    assert run.data.metrics["final_val_macro_f1"] > 0.85 and run.data.metrics["final_val_auc"] > 0.95
    model = logged_model(cwd, run)
    assert model.output_shape == (None, 3) and model.layers[-1].activation.__name__ == "sigmoid"

    def table(path: str) -> list[dict]:
        local = store.download_artifacts(run_id, path, tempfile.mkdtemp())
        return list(csv.DictReader(Path(local).read_text().splitlines()))

    split = {Path(row["path"]).name: row for row in table("data/split.csv")}
    # Each file's classes, in class order, joined as its CSV joins them (a labels CSV again).
    assert all(row["label"] == "|".join(sorted(truth[name])) for name, row in split.items())
    val = [name for name, row in split.items() if row["split"] == "val"]
    per_class = {row["class"]: row for row in table("eval/per_class.csv")}
    assert list(per_class) == ["blue", "green", "red"]
    for name, row in per_class.items():
        assert int(row["support"]) == sum(name in truth[file] for file in val)
    counts = {row["class"]: row for row in table("data/class_counts.csv")}
    assert int(counts["red"]["train"]) == sum(
        "red" in truth[f] for f, r in split.items() if r["split"] == "train"
    )
    matrix = table("eval/confusion_matrix.csv")  # each class's own yes/no counts
    assert [row["class"] for row in matrix] == ["blue", "green", "red"]
    assert all(sum(int(v) for k, v in row.items() if k != "class") == len(val) for row in matrix)
    assert "eval/confusion_matrix.png" not in {a.path for a in store.list_artifacts(run_id, "eval")}
    # Each class's own threshold, tuned on the validation images: never worse there than 0.5.
    tuned = {row["class"]: row for row in table("eval/thresholds.csv")}
    assert list(tuned) == ["blue", "green", "red"]
    for name, row in tuned.items():
        assert float(row["threshold"]) in [round(0.05 * k, 2) for k in range(1, 20)]
        assert (
            float(row["f1"])
            >= float(row["f1_at_0.5"])
            == pytest.approx(float(per_class[name]["f1"]), abs=1e-4)
        )
        assert int(row["support"]) == int(per_class[name]["support"])
    metrics = run.data.metrics
    assert metrics["final_val_macro_f1_tuned"] == pytest.approx(
        np.mean([float(r["f1"]) for r in tuned.values()])
    )
    assert metrics["final_val_macro_f1_tuned"] >= metrics["final_val_macro_f1"]


def test_a_number_per_image_trains_one_output_in_the_numbers_unit_and_is_scored_by_its_errors(
    regression_trained,
):
    cwd, run_id, truth = regression_trained
    store = client(cwd)
    run = store.get_run(run_id)
    metrics = run.data.metrics
    spread = float(np.std(list(truth.values())))  # what predicting the mean for all would miss by
    assert metrics["final_val_r2"] > 0.8 and metrics["final_val_mae"] < spread / 3
    assert metrics["final_val_rmse"] ** 2 == pytest.approx(metrics["final_val_loss"], rel=1e-3)  # MSE
    model = logged_model(cwd, run)
    assert model.output_shape == (None, 1) and model.layers[-1].name == "in_units"
    # Its architecture, as every run records it: Keras's summary and the weight counts.
    assert run.data.params["model_parameters"] == run.data.params["model_trainable_parameters"]
    assert int(run.data.params["model_parameters"]) == model.count_params()
    summary = Path(store.download_artifacts(run_id, "model_summary.txt", tempfile.mkdtemp())).read_text()
    assert "in_units (Rescaling)" in summary and f"Total params: {model.count_params():,}" in summary

    def table(path: str) -> list[dict]:
        local = store.download_artifacts(run_id, path, tempfile.mkdtemp())
        return list(csv.DictReader(Path(local).read_text().splitlines()))

    split = {Path(row["path"]).name: row for row in table("data/split.csv")}
    assert all(float(row["label"]) == truth[name] for name, row in split.items())
    summary = {row["split"]: row for row in table("data/numbers.csv")}
    for part in ("train", "val"):
        numbers = [truth[name] for name, row in split.items() if row["split"] == part]
        assert int(summary[part]["images"]) == len(numbers)
        assert float(summary[part]["median"]) == np.median(numbers)
    # The model's own scale is the training numbers': an untrained head's 0 is their mean.
    train = [truth[name] for name, row in split.items() if row["split"] == "train"]
    assert model.layers[-1].offset == pytest.approx(np.mean(train), rel=1e-5)
    drawn = {a.path for a in store.list_artifacts(run_id, "eval")}
    assert drawn == {"eval/predicted_vs_true.png", "eval/mistakes.png"}  # no classes: no matrix
