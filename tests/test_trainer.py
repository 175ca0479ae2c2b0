"""runner.trainer's parts on their own: the learning rate schedule, the optimizer's first step, the
loss, the float16 warning."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
from conftest import compose, error_lines, mlflow_runs, run_cli


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
    from runner.trainer import loss

    truth, predicted = np.array([[0.0, 1.0, 0.0]]), np.array([[0.2, 0.7, 0.1]])
    smoothed = loss(LabelMode.categorical, 0.3)
    target = np.array([0.1, 0.8, 0.1])  # 1 - 0.3 + 0.3/3 for the class, 0.3/3 for the others
    expected = -(target * np.log(predicted)).sum()
    assert float(smoothed(truth, predicted)) == pytest.approx(expected, rel=1e-5)
    assert float(loss(LabelMode.categorical, 0.0)(truth, predicted)) == pytest.approx(-np.log(0.7), rel=1e-5)
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
