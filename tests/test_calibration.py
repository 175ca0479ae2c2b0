"""How far a model's probabilities are taken at their word: the reliability diagram's bins and
error, and the temperature that calibrates them."""

from __future__ import annotations

import csv
from pathlib import Path

import mlflow
import numpy as np
import pytest


def test_calibration_bins_each_image_by_its_predicted_class_probability_and_weighs_the_gaps(tmp_path):
    from runner.calibration import log_calibration

    # Said 0.95 and right 9 in 10; 0.65 and right 13 in 20 (calibrated); 0.35 and right half the
    # time; a bin holds (low, high]: 0.5 is in 0.4-0.5, 1.0 in 0.9-1.0 (with the 0.95s).
    said = [0.95] * 10 + [0.65] * 20 + [0.35] * 10 + [0.5, 1.0]
    right = [True] * 9 + [False] + [True] * 13 + [False] * 7 + [True] * 5 + [False] * 5 + [True, True]
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = mlflow.MlflowClient().create_experiment("calibration")
    with mlflow.start_run(experiment_id=experiment) as run:
        error = log_calibration(np.array(said, np.float32), np.array(right), prefix="test_")
    gaps = 11 * abs(10.5 / 11 - 10 / 11) + 10 * abs(0.35 - 0.5) + 20 * 0 + 1 * abs(0.5 - 1)  # per bin
    assert error == pytest.approx(gaps / 42, abs=1e-6)
    client = mlflow.MlflowClient()
    table = client.download_artifacts(run.info.run_id, "eval/test_calibration.csv", str(tmp_path))
    rows = {row.pop("bin"): row for row in csv.DictReader(Path(table).read_text().splitlines())}
    assert list(rows) == [f"{k / 10:.1f}-{(k + 1) / 10:.1f}" for k in range(10)]
    assert {name: tuple(row.values()) for name, row in rows.items() if row["images"] != "0"} == {
        "0.3-0.4": ("10", "0.3500", "0.5000"),
        "0.4-0.5": ("1", "0.5000", "1.0000"),
        "0.6-0.7": ("20", "0.6500", "0.6500"),
        "0.9-1.0": ("11", f"{(9.5 + 1.0) / 11:.4f}", f"{10 / 11:.4f}"),
    }
    assert all(
        row["mean_probability"] == row["accuracy"] == "" for row in rows.values() if row["images"] == "0"
    )
    assert "eval/test_calibration.png" in [f.path for f in client.list_artifacts(run.info.run_id, "eval")]


def test_the_temperature_found_undoes_a_known_sharpening_and_none_is_found_for_all_right():
    from runner.calibration import no_temperature, scaled, temperature_of

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2000, 5)) * 2
    honest = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    truth = np.array([rng.choice(5, p=row) for row in honest])  # drawn as the probabilities say
    assert temperature_of(honest, truth) == pytest.approx(1.0, rel=0.03)
    assert temperature_of(scaled(honest, 0.5), truth) == pytest.approx(2.0, rel=0.03)  # overconfident
    sure = scaled(honest, 0.5)
    assert (scaled(sure, 2.0).argmax(axis=1) == sure.argmax(axis=1)).all()  # no prediction changes
    # Every image right: the colder the likelier, without end; no temperature is logged.
    assert temperature_of(honest, honest.argmax(axis=1)) is None
    assert no_temperature(honest, honest.argmax(axis=1)).startswith("every one right")
    # Far less sure than right (near-equal probabilities, an undertrained model's): cold end too,
    # and said to be that, not "every one right".
    flat = scaled(honest, 40)  # needs T = 1/40, past the search's coldest
    assert temperature_of(flat, truth) is None
    right, sure = (flat.argmax(axis=1) == truth).mean(), flat.max(axis=1).mean()
    said = no_temperature(flat, truth)
    assert said.startswith(f"{right:.0%} of them right, and their likeliest class given {sure:.2f}")
    assert "undertrained" in said and "every one right" not in said
    # No better than chance (each image's true class its least likely): the flatter the likelier.
    assert temperature_of(honest, honest.argmin(axis=1)) is None
    assert no_temperature(honest, honest.argmin(axis=1)).startswith("the model is no better than chance")
