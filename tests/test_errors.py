"""runner.errors: what the objects a config builds refuse, and what the machine does, as one line."""

from __future__ import annotations

import pytest
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from runner.errors import explain


@pytest.mark.parametrize(
    ("node", "key", "says"),
    [
        (
            {"aug": {"ops": {"zoom": {"_target_": "keras.layers.RandomZoom", "height_factor": -2}}}},
            "aug.ops.zoom",
            "aug.ops.zoom (RandomZoom): The `height_factor` and `width_factor` arguments should be a "
            "number (or a list of two numbers) in the range (-1.0, 1.0]. Received: input_number=-2",
        ),
        # Keras's words from inside a layer's call: colour codes and call details, left out.
        (
            {"model": {"_target_": "runner.models.small_cnn", "input_shape": [2, 2, 1], "num_classes": 3}},
            "model",
            "model (small_cnn): Computed output size would be zero or negative. Received: "
            "`inputs.shape=[None 1 1 64]`, `pool_size=[2 2]`, `strides=(2, 2)`, `padding=valid`.",
        ),
    ],
)
def test_what_a_built_object_refuses_is_its_key_and_its_own_words(node, key, says):
    with pytest.raises(InstantiationException) as refused:
        instantiate(OmegaConf.select(OmegaConf.create(node), key))
    assert explain(refused.value) == says


def test_a_process_without_a_home_folder_is_told_to_set_one(monkeypatch):
    # `docker run --user 1234` with no HOME: pathlib (the digits' default path) and MLflow's import
    # raised "Could not determine home directory." with a traceback.
    import pwd
    from pathlib import Path

    def unlisted(uid: int) -> None:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", unlisted)  # a user /etc/passwd does not list
    with pytest.raises(RuntimeError) as raised:
        Path("~/.cache/runner/digits").expanduser()
    line = explain(raised.value)
    assert line.startswith("this process has no home folder: HOME is not set") and "HOME=/tmp" in line
