"""runner.model_checks: a model of yours is tried on two images before the run (through
model=function and model=file: test_models)."""

from __future__ import annotations

import keras
import pytest

from runner.errors import RunnerError
from runner.model_checks import check_yours, squashed


def ending_in(activation: str | None, units: int) -> keras.Model:
    return keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(units, activation)]
    )


def test_probabilities_pass_and_logits_or_the_wrong_count_are_refused_with_the_layer_to_end_in():
    check_yours(ending_in("softmax", 4), "mine:build", (8, 8, 3), 4)
    check_yours(ending_in("sigmoid", 1), "mine:build", (8, 8, 3), 1)
    check_yours(ending_in(None, 1), "mine:build", (8, 8, 3), 1, output="linear")  # a regression's number
    with pytest.raises(RunnerError, match=r"activation='softmax'\); the runner's loss takes probabilities"):
        check_yours(ending_in(None, 4), "mine:build", (8, 8, 3), 4)
    with pytest.raises(
        RunnerError, match=r"outputs of shape \(3,\) for each image, and this run needs \(4,\)"
    ):
        check_yours(ending_in("softmax", 3), "mine:build", (8, 8, 3), 4)
    with pytest.raises(
        RunnerError, match=r"fails on a batch of the data's images \(float32, shape \(2, 16, 16, 3\)\)"
    ):
        check_yours(ending_in("softmax", 4), "mine:build", (16, 16, 3), 4)


def test_squashed_names_the_activation_that_bounds_the_output():
    assert [squashed(ending_in(a, 2)) for a in ("sigmoid", "softmax", None, "relu")] == [
        "sigmoid",
        "softmax",
        None,
        None,
    ]
