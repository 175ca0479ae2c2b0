"""The callbacks ``fit`` runs with: the epoch's metrics before its backup, the moving average, Ctrl-C."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import compose

from runner.backup import Backup
from runner.callbacks import BestCheckpoint, EpochMetrics, callbacks, interrupts_between_batches
from runner.interrupts import Terminated


@pytest.mark.parametrize(
    ("sig", "raised"),
    [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Terminated), (signal.SIGHUP, Terminated)],
)
def test_a_signal_during_fit_stops_it_at_the_next_batch_end_and_a_second_one_at_once(sig, raised):
    # Ctrl-C; a scheduler's stop or a preemption; an ssh session gone.
    before = signal.getsignal(sig)
    with interrupts_between_batches() as stop:
        os.kill(os.getpid(), sig)  # lands anywhere: only noted
        assert stop.requested == sig
        with pytest.raises(raised) as stopped:
            stop.on_train_batch_end(0)  # raised where Keras calls back, which nothing swallows
        assert getattr(stopped.value, "signum", signal.SIGINT) == sig
        with pytest.raises(raised):
            os.kill(os.getpid(), sig)  # the impatient second Ctrl-C
    assert signal.getsignal(sig) is before


def test_a_signal_the_run_was_started_ignoring_stays_ignored():
    # `nohup python -m runner ... &`: the terminal may close, the run goes on.
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with interrupts_between_batches() as stop:
            os.kill(os.getpid(), signal.SIGHUP)
            assert stop.requested is None
            stop.on_train_batch_end(0)
    finally:
        signal.signal(signal.SIGHUP, before)


def test_an_epochs_metrics_are_in_the_store_before_its_backup_is_written(tmp_path):
    # A run killed just after an epoch's backup resumes after that epoch, so nothing logs that
    # epoch's metrics again: they must be in the store by then, not in MLflow's background queue.
    import mlflow
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow.set_tracking_uri(uri)

    class Stored(keras.callbacks.Callback):
        """The epochs whose loss the store holds, the moment EpochMetrics has returned."""

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            history = MlflowClient(uri).get_metric_history(mlflow.active_run().info.run_id, "loss")
            self.epochs = getattr(self, "epochs", []) + [sorted(m.step for m in history)]

    chosen = callbacks(compose().trainer, tmp_path)
    kinds = [type(c) for c in chosen]
    assert kinds[-1] == Backup  # after the metrics and checkpoints: a kill before it redoes the epoch
    chosen.insert(kinds.index(EpochMetrics) + 1, stored := Stored())
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = np.zeros((4, 1)), np.zeros(4)
    with mlflow.start_run(experiment_id=MlflowClient(uri).create_experiment("callbacks")):
        model.fit(x, y, validation_data=(x, y), epochs=3, verbose=0, callbacks=chosen)
    assert stored.epochs == [[0], [0, 1], [0, 1, 2]]


def test_an_averaged_run_judges_and_keeps_the_average_and_resumes_as_if_never_stopped(tmp_path):
    # trainer.optimizer.use_ema: Keras alone validated and checkpointed the raw weights each epoch
    # and put their average in only as fit ended, so the final model was none that was judged.
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    trainer = compose("+trainer.optimizer.use_ema=true", "trainer.epochs=4").trainer
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.normal(size=64) > 0).astype("int32")

    class Crash(keras.callbacks.Callback):  # a kill once epoch 1's backup is written
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if epoch == 1:
                raise RuntimeError("killed")

    def fit(folder: Path, *extra: keras.callbacks.Callback) -> tuple[keras.Model, dict]:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(
            keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.9),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        history = model.fit(
            x,
            y,
            validation_data=(x[:16], y[:16]),
            epochs=4,
            shuffle=False,
            verbose=0,
            callbacks=[*callbacks(trainer, folder), *extra],
        )
        return model, history.history

    with mlflow.start_run(experiment_id=MlflowClient().create_experiment("averaged")):
        model, history = fit(tmp_path / "whole")
    final = model.evaluate(x[:16], y[:16], return_dict=True, verbose=0)
    assert final["loss"] == pytest.approx(history["val_loss"][-1], rel=1e-6)  # the last epoch judged it
    last = keras.saving.load_model(tmp_path / "whole" / "checkpoints" / "last.keras", safe_mode=True)
    for kept, ended in zip(last.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(kept, ended)
    killed = MlflowClient().create_experiment("killed")
    with mlflow.start_run(experiment_id=killed), pytest.raises(RuntimeError, match="killed"):
        fit(tmp_path / "resumed", Crash())
    Backup.put_back(tmp_path / "resumed" / "backup")
    with mlflow.start_run(experiment_id=MlflowClient().create_experiment("resumed")):
        resumed, rest = fit(tmp_path / "resumed")
    assert rest["val_loss"] == history["val_loss"][2:]
    for got, expected in zip(resumed.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_a_loss_that_is_no_longer_a_number_fails_the_run_once_its_epoch_is_logged(tmp_path, monkeypatch):
    # Keras would train on to the last epoch, at chance, and the run would end FINISHED.
    import mlflow
    from mlflow import MlflowClient

    from runner.errors import RunnerError

    monkeypatch.chdir(tmp_path)  # the run's artifacts: mlruns/ here
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    chosen = callbacks(
        compose("trainer.optimizer.learning_rate=0.5", "trainer.monitor=loss").trainer, tmp_path
    )
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.zeros((4, 1)), np.array([0.0, 1.0, 0.0, np.nan])  # a target no loss can be computed from
    with (
        mlflow.start_run(experiment_id=MlflowClient(uri).create_experiment("nan")) as run,
        pytest.raises(RunnerError) as stopped,
    ):
        model.fit(x, y, epochs=3, verbose=0, callbacks=chosen)
    assert str(stopped.value) == (
        "the loss became nan in epoch 1: training diverged, and would stay so. Lower "
        "trainer.optimizer.learning_rate (this run's: 0.5; e.g. trainer.optimizer.learning_rate=0.05)."
    )
    [logged] = MlflowClient(uri).get_metric_history(run.info.run_id, "loss")
    assert logged.step == 0 and np.isnan(logged.value)  # the epoch that diverged is in the record
    assert not (tmp_path / "checkpoints" / "last.keras").exists()  # nor a model of NaNs to train on


def test_a_best_checkpoint_record_that_cannot_be_read_is_named_for_the_resume_to_refuse(tmp_path):
    # A resume restores best.json (the best value so far) beside best.keras: cut short, it failed
    # BestCheckpoint inside fit, a traceback. runner.rerun refuses it by this (test_rerun).
    assert BestCheckpoint.unreadable(tmp_path) is None  # none yet: nothing to carry on from
    record = tmp_path / "best.json"
    for text, problem in [
        ('{"epoch": 2, "monitor": "val', "JSONDecodeError: Unterminated string"),
        ('{"epoch": 2}', "KeyError: 'value'"),
        ('{"epoch": 2, "value": null}', "TypeError: float() argument"),
    ]:
        record.write_text(text)
        assert BestCheckpoint.unreadable(tmp_path).startswith(f"best.json: {problem}"), text
    record.write_text('{"epoch": 2, "monitor": "val_accuracy", "value": 0.9}')
    assert BestCheckpoint.unreadable(tmp_path) is None
    assert BestCheckpoint(tmp_path, "val_accuracy").best == 0.9  # what the check stands for
