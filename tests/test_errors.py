"""runner.errors: what Hydra, OmegaConf and the objects they build refuse, as one line."""

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


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["trainer.epochs=1.5"], "trainer.epochs=1.5: must be a whole number, e.g. trainer.epochs=10."),
        (["model.dropout=abc"], "model.dropout=abc: must be a number, e.g. model.dropout=0.25."),
        (
            ["trainer.deterministic=maybe"],
            "trainer.deterministic=maybe: must be true or false, e.g. trainer.deterministic=true.",
        ),
        # The example is the value the config had: a preset's, where it sets one.
        (
            ["experiment=transfer", "trainer.lr_schedule=null"],
            "trainer.lr_schedule=null: cannot be null, e.g. trainer.lr_schedule=cosine (one of "
            "constant, cosine, plateau).",
        ),
        (["data.max_per_class=abc"], "data.max_per_class=abc: must be a whole number."),  # null by default
        (["data.image_size=[a,224]"], "data.image_size[0]=a: must be a whole number."),
        (
            ["data.color_mode=RGB"],
            "data.color_mode=RGB: Invalid value 'RGB', expected one of [grayscale, rgb, rgba]. "
            "Did you mean 'rgb'?",
        ),
    ],
)
def test_a_value_of_the_wrong_type_says_what_its_key_takes(overrides, says):
    from conftest import compose

    with pytest.raises(Exception) as refused:  # noqa: PT011 - whichever Hydra raises, explained
        compose(*overrides)
    assert explain(refused.value) == says


# What Hydra refuses as it composes, in this process; tests/test_main.py runs others of each
# kind as users do (python -m runner ...), through the same explain().
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["data.color_mode=rbg"], ["data.color_mode=rbg", "Did you mean 'rgb'?"]),
        (["experiment=nope"], ["experiment=nope", "no such option"]),
        (["model=resnet50"], ["model=resnet50: no such option", "is model=application model.name=ITS_CLASS"]),
        (["aug=standard", "~aug.ops.zooom"], ["~aug.ops.zooom", "nothing to delete", "Did you mean 'zoom'?"]),
        (["trainer.lr_schedule=cosin"], ["trainer.lr_schedule=cosin", "Did you mean 'cosine'?"]),
        # A choice by another tool's name for it (Lightning's precision="bf16-mixed").
        (["trainer.precision=fp16"], ["trainer.precision=fp16", "Did you mean 'mixed_float16'?"]),
        (["trainer.precision=bf16-mixed"], ["Did you mean 'mixed_bfloat16'?"]),
        (["data.cache=ram"], ["data.cache=ram", "Did you mean 'memory'?"]),
        (["data=glob", "data.label_regex=["], ["cannot parse the override 'data.label_regex=['"]),
        (["data.image_size=224"], ["data.image_size=224: needs [height, width]", "=[224,224]"]),
        (["data=digits", "data.extensions=jpg"], ["data.extensions=jpg: needs a list", "=[jpg,...]"]),
    ],
)
def test_what_hydra_refuses_as_it_composes_is_one_line(args, expected):
    from conftest import compose

    with pytest.raises(Exception) as refused:  # noqa: PT011 - whichever Hydra raises, explained
        compose(*args)
    line = explain(refused.value, args)
    assert all(fragment in line for fragment in expected) and "\n" not in line, line


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
