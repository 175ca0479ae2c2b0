"""A trained run read back: what its stored config says of it, before Keras starts."""

from __future__ import annotations

import pytest

from runner.errors import RunnerError
from runner.trained import flips


def aug(**ops: dict) -> dict:
    return {"aug": {"ops": ops}}


def test_tta_mirrors_as_the_run_trained_and_only_then():
    flip = "keras.layers.RandomFlip"
    assert flips("r", aug(flip={"_target_": flip, "mode": "horizontal"})) == ("horizontal",)
    assert flips("r", aug(flip={"_target_": flip, "mode": "vertical"})) == ("vertical",)  # a satellite tile
    assert flips("r", aug(flip={"_target_": flip})) == ("horizontal", "vertical")  # Keras's default mode
    idg = {"_target_": "runner.augment.image_data_generator", "horizontal_flip": False, "vertical_flip": True}
    assert flips("r", aug(idg=idg)) == ("vertical",)
    with pytest.raises(RunnerError, match="^--tta: averages each image with its mirror image, and run r did"):
        flips("r", aug(turn={"_target_": "keras.layers.RandomRotation", "factor": 0.1}))
    with pytest.raises(RunnerError):
        flips("r", {"aug": {"ops": {}}})
