"""`python -m runner.lr_find`: the loss against a rising learning rate, and the rate to train with."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest
from conftest import error_lines, run_cli
from PIL import Image

from runner.lr_find import DIVERGED, curve, smoothed, suggestion


def test_the_rate_found_is_where_the_digits_loss_falls_fastest_and_the_test_stops_as_it_diverges(tmp_path):
    # --out without an extension: lr.png, named so in the last line (which said "wrote found/lr").
    args = (f"data.path={tmp_path / 'digits'}", "data.image_size=[16,16]", "--out", "found/lr")
    (tmp_path / "found").mkdir()
    result = run_cli(*args, cwd=tmp_path, module="runner.lr_find")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Warning" not in result.stderr  # Keras's about shuffling a dataset that has its own order
    rows = list(csv.DictReader((tmp_path / "found" / "lr.csv").open()))
    rates, losses = (np.array([float(row[key]) for row in rows]) for key in ("learning_rate", "loss"))
    assert rates[0] == pytest.approx(1e-7) and np.allclose(
        np.diff(np.log(rates)), np.log(1e8) / 99, rtol=1e-3
    )
    # Adam on digits: chance (ln 10) at the lowest rates, a fall, then a climb that stops the test.
    assert losses[:10] == pytest.approx(np.log(10), abs=0.1)
    running = smoothed(losses)  # as the test goes: it stops at the first batch past DIVERGED
    assert len(rows) < 100 and running[-1] > DIVERGED * running.min()
    assert all(running[i] <= DIVERGED * running[: i + 1].min() for i in range(len(rows) - 1))
    smooth = np.array([float(row["smoothed"]) for row in rows])  # drawn and read: both ways, no lag
    [line] = [line for line in result.stderr.splitlines() if line.startswith("runner.lr_find:")]
    found = float(re.search(r"fell fastest at (\S+):", line).group(1))
    assert 1e-4 < found < rates[np.argmin(smooth)]  # before the lowest loss, where it still falls
    assert line.endswith(
        f"python -m runner {args[0]} 'data.image_size=[16,16]' trainer.optimizer.learning_rate={found:.1e}"
    )
    assert result.stderr.splitlines()[-1] == "wrote found/lr.png and found/lr.csv"
    with Image.open(tmp_path / "found" / "lr.png") as picture:
        assert picture.format == "PNG" and picture.width >= 400


def test_the_suggestion_is_the_steepest_fall_before_the_lowest_loss():
    rates = np.geomspace(1e-6, 1, 61)
    # Flat, then falling fastest at 1e-3, lowest at 1e-1, then climbing (steeper than any fall).
    logs = np.log10(rates)
    loss = np.where(logs > -1, 1.0 + 10 * (logs + 1) ** 2, 2 - np.tanh(logs + 3))
    assert rates[suggestion(rates, loss)] == pytest.approx(1e-3, rel=0.15)
    assert suggestion(rates, np.linspace(1, 3, 61)) is None  # rising from the start


def test_smoothing_removes_its_bias_towards_zero_at_the_start():
    assert smoothed(np.full(5, 2.0)) == pytest.approx(np.full(5, 2.0))


def test_a_spike_past_the_lowest_loss_does_not_lift_the_fall_before_it():
    # Digits at 30 steps: a fall to 2.05, then a spike of 19 as the rates climb.
    losses = np.array([2.3] * 17 + [2.25, 2.2, 2.05, 4.2, 2.3, 2.3, 2.5, 3.0, 2.3, 19.4, 3.4, 2.3, 2.9])
    drawn = curve(losses)
    # Smoothed both ways over all of it, the spike carried backwards put the lowest point at 0.
    assert int(np.argmin(drawn)) in range(17, 21)
    assert drawn[21:] == pytest.approx(smoothed(losses)[21:])


def test_bad_options_and_overrides_are_one_line(tmp_path):
    result = run_cli("--start", "1", "--end", "0.1", cwd=tmp_path, module="runner.lr_find")
    assert result.returncode == 2 and "need 0 < start < end" in result.stderr
    result = run_cli("--steps", "3", cwd=tmp_path, module="runner.lr_find")
    assert result.returncode == 2 and "--steps 3: a range test needs 10 batches at least" in result.stderr
    result = run_cli("trainer.epoch=3", cwd=tmp_path, module="runner.lr_find")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert "trainer.epoch" in line and "epochs" in line
