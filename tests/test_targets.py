"""Building what a config names: allowed targets only, with only the keys they take."""

from __future__ import annotations

import keras
import pytest
from omegaconf import OmegaConf

from runner.errors import RunnerError
from runner.targets import build


def node(**values):
    return OmegaConf.create(values)


def test_builds_with_keys_the_target_and_its_bases_take():
    flip = build(node(_target_="keras.layers.RandomFlip", mode="vertical", name="flip"), "aug.ops.flip")
    assert isinstance(flip, keras.layers.RandomFlip) and flip.name == "flip"  # `name` is Layer's
    adam = build(node(_target_="keras.optimizers.Adam", clipnorm=1.0), "trainer.optimizer", learning_rate=0.5)
    assert adam.clipnorm == 1.0 and float(adam.learning_rate) == 0.5


def test_an_unknown_key_names_the_closest_parameter():
    sgd = node(_target_="keras.optimizers.SGD", momentm=0.9)
    with pytest.raises(
        RunnerError, match=r"^trainer.optimizer.momentm: keras.optimizers.SGD has no parameter "
    ):
        build(sgd, "trainer.optimizer")
    with pytest.raises(RunnerError, match="Did you mean 'momentum'\\? It takes: learning_rate, momentum"):
        build(sgd, "trainer.optimizer")


def test_a_yes_or_no_parameter_takes_true_or_false_only():
    # Python takes any value as a yes or no: use_ema=no (a string) turned the average on.
    with pytest.raises(
        RunnerError,
        match=r"^trainer.optimizer.use_ema=no: keras.optimizers.Adam takes true or false here, "
        r"e.g. trainer.optimizer.use_ema=true$",
    ):
        build(node(_target_="keras.optimizers.Adam", use_ema="no"), "trainer.optimizer")
    with pytest.raises(RunnerError, match=r"^trainer.optimizer.amsgrad=1: "):
        build(node(_target_="keras.optimizers.Adam", amsgrad=1), "trainer.optimizer")
    assert build(node(_target_="keras.optimizers.Adam", use_ema=True), "trainer.optimizer").use_ema
    # A subclass's own default decides: Layer's ``trainable=True``, given as false, is a bool still.
    assert not build(node(_target_="keras.layers.RandomFlip", trainable=False), "aug.ops.flip").trainable


def test_a_needed_parameter_left_out_is_named_unless_the_runner_passes_it():
    rotate = node(_target_="keras.layers.RandomRotation")
    says = r"aug.ops.turn: keras.layers.RandomRotation needs 'factor'; set it with \+aug.ops.turn.factor="
    with pytest.raises(RunnerError, match=says):
        build(rotate, "aug.ops.turn")
    assert build(rotate, "aug.ops.turn", factor=0.1).factor == (-0.1, 0.1)
    positional = node(_target_="keras.layers.RandomRotation", _args_=[0.2])  # Hydra's positional form
    assert build(positional, "aug.ops.turn").factor == (-0.2, 0.2)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("os.system", "model._target_=os.system: not allowed"),
        ("keras.saving.load_model", "model._target_=keras.saving.load_model: not allowed"),  # safe_mode=False
        ("keras.layers.Lambda", "model._target_=keras.layers.Lambda: not allowed; it runs Python code"),
        ("keras.layers.RandomFlp", "'keras.layers' has no 'RandomFlp'. Did you mean 'RandomFlip'?"),
        # Builds whatever class a dict names, a TFSMLayer (a graph from a file) too: classes only.
        ("keras.layers.deserialize", "model._target_=keras.layers.deserialize: not allowed; of Keras"),
        (
            "keras.losses.get",
            "model._target_=keras.losses.get: not allowed; of Keras the runner builds classes",
        ),
    ],
)
def test_only_allowed_importable_targets(target, expected):
    with pytest.raises(RunnerError, match=expected.replace("(", r"\(").replace("?", r"\?")):
        build(node(_target_=target), "model")
