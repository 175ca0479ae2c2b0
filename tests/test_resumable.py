"""Early stopping's and the plateau schedule's counters, carried across a resume."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from runner.resumable import ResumableEarlyStopping, ResumablePlateau


def run_epochs(stopping: keras.callbacks.EarlyStopping, losses: dict[int, float]) -> tuple[int, float]:
    """Call ``stopping`` back as ``fit`` does, one epoch per entry of ``losses`` (epoch ->
    val_loss), a model whose weights are the epoch number; (last epoch run, weights at the end)."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.stop_training = False  # as fit sets it
    stopping.set_model(model)
    stopping.on_train_begin()
    for epoch, loss in losses.items():
        stopping.on_epoch_begin(epoch)
        model.set_weights([np.full_like(w, epoch) for w in model.get_weights()])
        stopping.on_epoch_end(epoch, {"val_loss": loss})
        if model.stop_training:
            break
    stopping.on_train_end()
    return epoch, float(model.get_weights()[0].flat[0])


LOSSES = {0: 1.0, 1: 0.8, 2: 0.9, 3: 0.95, 4: 0.85, 5: 0.7}  # best at 1, then 3 epochs without


def early_stopping(folder: Path) -> ResumableEarlyStopping:
    return ResumableEarlyStopping(folder, monitor="val_loss", patience=3, restore_best_weights=True)


def test_early_stopping_resumed_stops_where_the_uninterrupted_run_stops(tmp_path):
    assert run_epochs(early_stopping(tmp_path / "whole"), LOSSES) == (4, 1.0)  # stops at 4, best: 1
    first = {e: loss for e, loss in LOSSES.items() if e < 3}
    run_epochs(early_stopping(tmp_path / "resumed"), first)  # killed after epoch 2
    rest = {e: loss for e, loss in LOSSES.items() if e >= 3}
    assert run_epochs(early_stopping(tmp_path / "resumed"), rest) == (4, 1.0)
    # Keras's own EarlyStopping, resumed, counts from zero: it would train on, to a worse model.
    plain = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    assert run_epochs(plain, rest) == (5, 5.0)


def test_early_stopping_a_step_ahead_of_the_backup_resumes_from_its_previous_state(tmp_path):
    # Killed after early stopping saved epoch 2 but before the backup did: the resume runs epoch 2 again.
    run_epochs(early_stopping(tmp_path), {e: loss for e, loss in LOSSES.items() if e < 3})
    assert run_epochs(early_stopping(tmp_path), {e: loss for e, loss in LOSSES.items() if e >= 2}) == (4, 1.0)
    # Two states are kept, and the best weights only they need.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best-1.npz", "states.json"]


def rates(plateau: keras.callbacks.ReduceLROnPlateau, losses: dict[int, float], start: float) -> list[float]:
    """Call ``plateau`` back as ``fit`` does (epoch -> val_loss), from the rate ``start``; the rate
    after each epoch."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(start), "mse")
    plateau.set_model(model)
    plateau.on_train_begin()
    after = []
    for epoch, loss in losses.items():
        plateau.on_epoch_begin(epoch)
        plateau.on_epoch_end(epoch, {"val_loss": loss})
        after.append(float(model.optimizer.learning_rate))
    return after


def test_plateau_resumed_lowers_the_rate_where_the_uninterrupted_run_does(tmp_path):
    def plateau(folder: Path) -> ResumablePlateau:
        return ResumablePlateau(folder, monitor="val_loss", patience=2, factor=0.5)

    # Best at 1; epochs 2 and 3 without a better loss: the rate halves after epoch 3.
    assert rates(plateau(tmp_path / "whole"), LOSSES, 1.0) == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]
    rates(plateau(tmp_path / "resumed"), {e: loss for e, loss in LOSSES.items() if e < 3}, 1.0)
    rest = {e: loss for e, loss in LOSSES.items() if e >= 3}
    assert rates(plateau(tmp_path / "resumed"), rest, 1.0) == [0.5, 0.5, 0.5]
    # Keras's own, resumed, counts from zero and its best from epoch 3: it would never lower it.
    plain = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=2, factor=0.5)
    assert rates(plain, rest, 1.0) == [1.0, 1.0, 1.0]


def test_a_lowered_rate_is_in_keras_backup(tmp_path):
    # What ResumablePlateau leaves to BackupAndRestore: the optimizer's learning_rate variable.
    class LowerThenCrash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.model.optimizer.learning_rate = 0.25
            if epoch == 1:
                raise RuntimeError("killed")

    class Seen(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.first = getattr(self, "first", (epoch, float(self.model.optimizer.learning_rate)))

    def model() -> keras.Model:
        built = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        built.compile(keras.optimizers.SGD(1.0), "mse")
        return built

    x = np.zeros((4, 1))
    with pytest.raises(RuntimeError, match="killed"):
        model().fit(
            x,
            x,
            epochs=3,
            verbose=0,
            callbacks=[LowerThenCrash(), keras.callbacks.BackupAndRestore(tmp_path)],
        )
    seen = Seen()
    model().fit(x, x, epochs=3, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(tmp_path), seen])
    assert seen.first == (1, 0.25)  # resumed at epoch 1 with the rate lowered after epoch 0
