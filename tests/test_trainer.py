"""runner.trainer's parts on their own: the learning rate schedule, the optimizer's first step, the
loss, the float16 and imbalance warnings."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
from conftest import compose, error_lines, mlflow_runs, outputs_of, run_cli, train_here


def test_cosine_schedule_warms_up_then_decays_to_zero_at_the_last_step():
    from runner.trainer import optimizer

    cfg = compose(
        "trainer.lr_schedule=cosine",
        "trainer.warmup_epochs=1",
        "trainer.epochs=3",
        "trainer.optimizer.learning_rate=0.01",
    )
    adam = optimizer(cfg.trainer, steps_per_epoch=10)
    rates = []
    for step in (0, 5, 10, 20, 30):
        adam.iterations.assign(step)
        rates.append(round(float(adam.learning_rate), 6))
    assert rates == [0.0, 0.005, 0.01, 0.005, 0.0]  # warm-up, peak after epoch 0, half-way, end


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # A value of the wrong type fails only in a step: Keras takes it as it builds the optimizer.
        (
            ["+trainer.optimizer.beta_1=abc"],
            r"its first step fails: .*This run gives it learning_rate=0.001, beta_1=abc\.$",
        ),
        (["+trainer.optimizer.weight_decay=[1,2]"], r"its first step fails: .*weight_decay=\[1, 2\]\.$"),
        # A combination Keras refuses as it builds it.
        (["+trainer.optimizer.clipnorm=1", "+trainer.optimizer.global_clipnorm=1"], "Only one of `clipnorm`"),
    ],
)
def test_an_optimizer_that_cannot_step_is_refused_before_the_run(given, expected):
    from runner.errors import explain
    from runner.trainer import try_optimizer

    with pytest.raises(Exception) as refused:
        try_optimizer(compose(*given).trainer)
    assert re.search(expected, explain(refused.value, given)), explain(refused.value, given)
    try_optimizer(compose("+trainer.optimizer.beta_1=0.8").trainer)  # a number steps


def test_a_value_only_a_step_refuses_leaves_no_run_and_decodes_nothing(photos, tmp_path):
    args = ("data=dir", f"data.path={photos}", "data.image_size=[16,16]", "+trainer.optimizer.beta_1=abc")
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert line.startswith("runner: error: trainer.optimizer (Adam): its first step fails:")
    assert mlflow_runs(tmp_path) == [] and "runner.cache" not in result.stderr


def test_label_smoothing_spreads_the_target_and_survives_a_safe_mode_load(tmp_path):
    from runner.schemas.data import LabelMode
    from runner.trainer import own_loss

    truth, predicted = np.array([[0.0, 1.0, 0.0]]), np.array([[0.2, 0.7, 0.1]])
    smoothed = own_loss(LabelMode.categorical, 0.3)
    target = np.array([0.1, 0.8, 0.1])  # 1 - 0.3 + 0.3/3 for the class, 0.3/3 for the others
    expected = -(target * np.log(predicted)).sum()
    assert float(smoothed(truth, predicted)) == pytest.approx(expected, rel=1e-5)
    assert float(own_loss(LabelMode.categorical, 0.0)(truth, predicted)) == pytest.approx(
        -np.log(0.7), rel=1e-5
    )
    # The logged model is compiled with it, and must still load with safe_mode.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", smoothed)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.loss.get_config()["label_smoothing"] == 0.3


def test_float16_on_a_cpu_that_emulates_it_is_warned_of(tmp_path, caplog):
    from runner.schemas.trainer import Precision
    from runner.trainer import warn_if_emulated

    def warned(flags: str, precision: Precision = Precision.mixed_float16) -> list[str]:
        (tmp_path / "cpuinfo").write_text(f"model name\t: Some CPU\nflags\t\t: {flags}\n")
        caplog.clear()
        warn_if_emulated(precision, tmp_path / "cpuinfo")  # no GPU on the test machines
        return caplog.messages

    [line] = warned("avx2 fma avx512f avx512_bf16")
    assert line.startswith("trainer.precision=mixed_float16: no GPU here, and this CPU has no float16")
    assert line.endswith(
        "Use trainer.precision=float32, or mixed_bfloat16, which this CPU computes natively (40 ms)."
    )
    [line] = warned("avx2 fma")
    assert line.endswith("Use trainer.precision=float32.")
    assert warned("avx2 avx512f avx512_fp16") == []  # Sapphire Rapids and later compute float16
    assert warned("avx2 fma", Precision.float32) == warned("avx2 fma", Precision.mixed_bfloat16) == []


@pytest.mark.parametrize(
    ("loss", "mode", "refused"),
    [
        ("Huber", "regression", None),
        ("MeanAbsoluteError", "regression", None),
        ("CategoricalFocalCrossentropy", "categorical", None),
        ("BinaryFocalCrossentropy", "multi_hot", None),
        ("BinaryFocalCrossentropy", "binary", None),
        # Made for other labels: fails only inside model.fit, after the decode, unless tried first.
        (
            "CategoricalCrossentropy",
            "int",
            "(data.label_mode=int: a class number) against its model's outputs (3 ",
        ),
        ("SparseCategoricalCrossentropy", "categorical", "(data.label_mode=categorical: a one-hot row of"),
    ],
)
def test_a_loss_is_tried_on_the_runs_kind_of_labels_before_it_trains(loss, mode, refused):
    from runner.errors import RunnerError
    from runner.schemas.data import LabelMode
    from runner.trainer import example_batch
    from runner.trainer import loss as loss_of

    trainer = compose(f"+trainer.loss._target_=keras.losses.{loss}").trainer
    classes = 2 if mode == "binary" else 3
    if refused:
        with pytest.raises(RunnerError) as said:
            loss_of(trainer, LabelMode(mode), classes)
        assert str(said.value).startswith(f"trainer.loss ({loss}): cannot score this run's labels {refused}")
        return
    chosen = loss_of(trainer, LabelMode(mode), classes)
    labels, outputs = example_batch(LabelMode(mode), classes)
    assert type(chosen) is getattr(keras.losses, loss)
    assert float(chosen(labels, outputs)) == pytest.approx(
        float(getattr(keras.losses, loss)()(labels, outputs))
    )


def test_a_chosen_loss_trains_and_its_model_loads_with_safe_mode(tmp_path):
    run = train_here(
        f"data.path={tmp_path / 'digits'}",
        "data.image_size=[8,8]",
        "data.label_mode=categorical",
        "trainer.epochs=1",
        "tracking.log_model=false",
        "trainer.loss={_target_: keras.losses.CategoricalFocalCrossentropy, gamma: 3.0}",
        cwd=tmp_path,
    )
    assert run.data.params["trainer.loss._target_"] == "keras.losses.CategoricalFocalCrossentropy"
    assert run.data.params["trainer.loss.gamma"] == "3.0"
    best = outputs_of(tmp_path, run) / "checkpoints" / "best.keras"
    model = keras.saving.load_model(best, safe_mode=True)
    assert type(model.loss) is keras.losses.CategoricalFocalCrossentropy and model.loss.gamma == 3.0


def test_an_average_still_holding_its_first_steps_weights_is_said_with_a_momentum_that_would_not(caplog):
    from runner.trainer import warn_if_average_lags

    averaged = compose("+trainer.optimizer.use_ema=true").trainer.optimizer
    warn_if_average_lags(averaged, 135)  # digits: 3 epochs of 45 batches, at Keras's 0.99
    [line] = caplog.messages
    assert line == (
        "trainer.optimizer.use_ema=true: the average of this run's 135 updates at ema_momentum=0.99 "
        f"still holds {100 * 0.99**134:.0f}% of the weights after its first (Keras's average starts "
        "there), so its final model is partly untrained. Lower it (+trainer.optimizer.ema_momentum=0.96 "
        "leaves under 1%) or train longer"
    )
    assert 0.96**134 < 0.01 < 0.97**134  # the one named: the highest of two decimals that does
    caplog.clear()
    warn_if_average_lags(averaged, 1000)  # 0.99**999: nothing left of it
    faster = compose("+trainer.optimizer.use_ema=true", "+trainer.optimizer.ema_momentum=0.96").trainer
    warn_if_average_lags(faster.optimizer, 135)
    warn_if_average_lags(compose().trainer.optimizer, 10)  # no average
    assert caplog.messages == []
    accumulated = compose(
        "+trainer.optimizer.use_ema=true", "+trainer.optimizer.gradient_accumulation_steps=4"
    ).trainer.optimizer
    warn_if_average_lags(accumulated, 1000)  # 250 updates: 8% left
    assert "this run's 250 updates" in caplog.messages[0]


def test_an_imbalanced_run_without_class_weights_is_warned_of(tmp_path, caplog):
    from conftest import write_image

    from runner import pipeline
    from runner.sources import DirSource
    from runner.trainer import class_weights

    for name, count in (("cat", 12), ("dog", 3)):
        for i in range(count):
            write_image(tmp_path / "pets" / name / f"{i}.png", (8, 8))
    cfg = compose("data=dir", f"data.path={tmp_path / 'pets'}", "data.validation_split=0").data
    data = pipeline.build(cfg, DirSource(path=str(tmp_path / "pets")).index(), seed=0)
    assert class_weights(None, data) is None
    assert caplog.messages[-1] == (
        "imbalanced: 'cat' has 12 training images, 'dog' 3 (4.0×); trainer.class_weight=balanced "
        "weighs each class alike"
    )
