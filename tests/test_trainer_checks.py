"""runner.trainer_checks: the trainer values refused before TensorFlow starts, and the metrics a
run reports for ``trainer.monitor`` (which way is better)."""

from __future__ import annotations

import pytest
from conftest import compose

from runner.checks import check_config
from runner.errors import RunnerError
from runner.schemas.data import LabelMode
from runner.trainer_checks import KERAS_LOSSES, KERAS_OPTIMIZERS, LOSS_ALIASES, check_trainer, lower_is_better


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["trainer.warmup_epochs=2"], "trainer.warmup_epochs=2: only trainer.lr_schedule=cosine warms up"),
        (
            ["trainer.lr_schedule=plateau", "trainer.plateau_factor=2"],
            "trainer.plateau_factor=2.0: the patience must be at least 0 epochs and the factor between 0",
        ),
        (
            ["trainer.lr_schedule=plateau", "~trainer.optimizer.learning_rate"],
            "lr_schedule=plateau: needs a number",
        ),
        (["trainer.top_k=1"], "trainer.top_k=1: must be at least 2"),
        (["trainer.class_weight=balance"], "trainer.class_weight=balance: the only option is 'balanced'"),
        (
            ["trainer.optimizer=sgd"],
            r"optimizer=sgd: .* not by a name: trainer.optimizer._target_=keras.optimizers.SGD ",
        ),
        (
            ["trainer.optimizer=null"],
            r"optimizer=null: .* not by a name: trainer.optimizer._target_=keras.optimizers.Adam ",
        ),
        (
            ["trainer.loss=huber"],
            r"loss=huber: .* not by a name: 'trainer.loss=\{_target_: keras.losses.Huber\}'",
        ),
        (["trainer.loss=mae"], r"'trainer.loss=\{_target_: keras.losses.MeanAbsoluteError\}'"),
        (
            [
                "+trainer.loss._target_=keras.losses.CategoricalFocalCrossentropy",
                "trainer.label_smoothing=0.1",
            ],
            r"smooths the runner's own cross-entropy, .* \+trainer.loss.label_smoothing=0.1 with trainer",
        ),
    ],
)
def test_trainer_settings_that_would_be_ignored_or_fail_are_refused(overrides, says):
    with pytest.raises(RunnerError, match=says):
        check_trainer(compose(*overrides).trainer)


def test_optimizer_values_at_the_ends_of_their_ranges_pass():
    check_config(
        compose(
            "+trainer.optimizer.beta_1=0",
            "+trainer.optimizer.weight_decay=0",
            "+trainer.optimizer.epsilon=1e-9",
        )
    )


def test_the_optimizers_and_losses_suggested_for_a_name_are_keras_own():
    import keras

    assert set(KERAS_OPTIMIZERS.split()) <= set(dir(keras.optimizers))
    assert {*KERAS_LOSSES.split(), *LOSS_ALIASES.values()} <= set(dir(keras.losses))


def test_auc_is_a_metric_to_monitor_with_several_classes_per_image():
    check_trainer(compose("trainer.monitor=val_auc").trainer, LabelMode.multi_hot)
    with pytest.raises(RunnerError, match="trainer.monitor=val_auc: not a metric the runner reports"):
        check_trainer(compose("trainer.monitor=val_auc").trainer)


def test_a_number_per_image_is_monitored_by_its_errors_and_lower_is_better():
    for monitor in ("val_mae", "rmse", "val_loss"):
        check_trainer(compose(f"trainer.monitor={monitor}").trainer, LabelMode.regression)
        assert lower_is_better(monitor)
    assert not lower_is_better("val_accuracy") and not lower_is_better("val_auc")
    with pytest.raises(
        RunnerError, match="val_accuracy: data.label_mode=regression reports .*set trainer.monitor=val_mae"
    ):
        check_trainer(compose().trainer, LabelMode.regression)  # the default, for classes
    with pytest.raises(RunnerError, match="trainer.monitor=val_mae: not a metric the runner reports"):
        check_trainer(compose("trainer.monitor=val_mae").trainer)
