"""The callbacks ``fit`` runs with, chosen so that a run interrupted at any point can be resumed
exactly (``python -m runner.rerun RUN_ID --resume``) and Ctrl-C stops it cleanly.

Keras's ``BackupAndRestore`` saves weights, optimizer and epoch after each epoch (``Backup``: so that
a kill while it writes leaves the backup before it whole). What it does not save is made a function
of the epoch (``EpochSeeds``: the model's random draws; the batch order and the pipeline's
augmentation are functions of seed, epoch and batch in ``pipeline``) or saved beside its backup
(``runner.resumable``: early stopping's and the plateau schedule's counters). With a moving average
of the weights, the backup holds the raw weights while all else sees the average (``AverageIn``).
"""

from __future__ import annotations

import json
import math
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keras
import mlflow
import numpy as np
from mlflow.keras import MlflowCallback
from omegaconf import DictConfig

from runner.augment import seed_states
from runner.backup import Backup
from runner.errors import RunnerError
from runner.interrupts import STOP_SIGNALS, Terminated, handled
from runner.resumable import ResumableEarlyStopping, ResumablePlateau
from runner.schemas.trainer import Schedule


class EpochSeeds(keras.callbacks.Callback):
    """Make each epoch's random draws in the model (dropout, ``aug.placement=model``) a function
    of the seed and the epoch number alone. Keras saves no seed state with the weights, so without
    this a resumed run would draw other numbers than the original. (The batch order and the
    pipeline's augmentation are functions of seed, epoch and batch by construction.)"""

    STRIDE = 2**32  # draws one generator may make in an epoch before it would reach the next's

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.seeds = seed_states([self.model])

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        for state, seed in self.seeds:
            state.assign(np.array([seed, epoch * self.STRIDE], dtype=state.dtype))


class AverageIn(keras.callbacks.SwapEMAWeights):
    """``use_ema``: the weights' moving average in the model wherever the run judges it: each
    epoch's validation, and, at the epoch's end, the callbacks after this one (the monitor, early
    stopping's best weights, the checkpoints). Keras alone validates and checkpoints the raw
    weights and puts the average in only as ``fit`` ends, so the best epoch was chosen by other
    weights than the final model's."""

    def __init__(self) -> None:
        super().__init__(swap_on_epoch=True)


class AverageOut(keras.callbacks.Callback):
    """The raw weights back in before the epoch's backup, which must hold them, and their average
    where the optimizer keeps it, for a resumed run to train on as if never stopped
    (``AverageIn`` alone swaps them back only as the next epoch begins)."""

    def __init__(self, average: AverageIn) -> None:
        super().__init__()
        self.average = average

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.average.on_epoch_begin(epoch)  # its swap back


class BestCheckpoint(keras.callbacks.ModelCheckpoint):
    """``best.keras``: the model at its best ``trainer.monitor`` epoch so far, and ``best.json``
    (that epoch and value) beside it, which a resumed run starts from (``rerun`` copies both into
    its folder). It saves before ``BackupAndRestore`` does: a run killed between the two redoes
    that epoch, which scores the same (the run is deterministic) and so leaves the file as it is."""

    def __init__(self, folder: Path, monitor: str) -> None:
        self.record = folder / "best.json"
        best = self.recorded(folder)
        super().__init__(
            folder / "best.keras", monitor=monitor, save_best_only=True, initial_value_threshold=best
        )

    @staticmethod
    def recorded(folder: Path) -> float | None:
        """The best value so far that ``best.json`` in ``folder`` holds (a resumed run's), or None."""
        record = folder / "best.json"
        return float(json.loads(record.read_text())["value"]) if record.exists() else None

    @classmethod
    def unreadable(cls, folder: Path) -> str | None:
        """What keeps ``best.json`` in ``folder`` (a resume's copy) from being read, or None: cut
        short, it failed this class's ``__init__`` inside ``fit``, a traceback."""
        try:
            cls.recorded(folder)
        except (OSError, ValueError, KeyError, TypeError) as err:
            return f"best.json: {type(err).__name__}: {err}"
        return None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        before = self.best
        super().on_epoch_end(epoch, logs)
        if self.best != before:
            partial = self.record.with_name("partial-best.json")
            partial.write_text(
                json.dumps({"epoch": epoch, "monitor": self.monitor, "value": float(self.best)})
            )
            partial.replace(self.record)


class StopOnInterrupt(keras.callbacks.Callback):
    """Ctrl-C (or SIGTERM, SIGHUP) during ``fit`` stops it at the next batch's end, raised from this
    callback. Raised where the signal lands, the KeyboardInterrupt can fall inside a ``__del__``
    (TensorFlow's objects run many), where Python prints and drops it: the run would go on to its
    last epoch. A second signal stops at once."""

    def __init__(self) -> None:
        super().__init__()
        self.requested: int | None = None  # the signal

    def request(self, signum: int, frame: object) -> None:
        if self.requested:
            self.stop()
        self.requested = signum

    def check(self, batch: int, logs: dict | None = None) -> None:
        if self.requested:
            self.stop()

    def stop(self) -> None:
        raise KeyboardInterrupt if self.requested == signal.SIGINT else Terminated(self.requested)

    on_train_batch_end = on_test_batch_end = check


class EpochMetrics(keras.callbacks.Callback):
    """What MLflow's Keras callback logs (its ``on_train_begin``: the optimizer's settings as
    params, the model summary), but each epoch's metrics and learning rate in the store before
    the epoch's backup is written, and a failure raised. MLflow's logs them in a background queue,
    which a killed run takes with it (its resume starts after that epoch, so they would never be
    logged), and swallows every error: with its server gone, training went on, each epoch waiting
    minutes on MLflow's retries and its metrics lost. Nor its ``on_test_end``: that logs each
    epoch's validation again as ``validation_*``, every value at step 0, beside Keras's ``val_*``."""

    def on_train_begin(self, logs: dict | None = None) -> None:
        run = mlflow.get_run(mlflow.active_run().info.run_id)
        if "optimizer_name" not in run.data.params:  # a resumed run logged them as it began
            MlflowCallback.on_train_begin(self, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        mlflow.log_metrics({**(logs or {}), "learning_rate": rate}, step=epoch, synchronous=True)


class StopOnDivergence(keras.callbacks.Callback):
    """A loss that is no longer a number (nan, inf) stays so: the run would train on to its last
    epoch at chance and end FINISHED with a model of NaNs (Keras's ``TerminateOnNaN`` stops it as
    quietly). Raised after the epoch's metrics are logged, before its backup and last checkpoint."""

    def __init__(self, rate: object) -> None:
        super().__init__()
        self.rate = rate  # trainer.optimizer.learning_rate as configured

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(loss):
            return
        rate = self.rate
        fix = (
            f"{rate}; e.g. trainer.optimizer.learning_rate={rate / 10:g}"
            if isinstance(rate, int | float)
            else "a schedule"
        )
        raise RunnerError(
            f"the loss became {loss} in epoch {epoch + 1}: training diverged, and would stay so. "
            f"Lower trainer.optimizer.learning_rate (this run's: {fix})."
        )


@contextmanager
def interrupts_between_batches() -> Iterator[StopOnInterrupt]:
    """SIGINT and ``STOP_SIGNALS`` handled by a ``StopOnInterrupt`` while inside."""
    stop = StopOnInterrupt()
    with handled((signal.SIGINT, *STOP_SIGNALS), stop.request):
        yield stop


def callbacks(cfg: DictConfig, output_dir: Path) -> list[keras.callbacks.Callback]:
    """For ``fit``, from the ``trainer`` config; ``output_dir/backup`` is what a resume reads."""
    found: list[keras.callbacks.Callback] = [EpochSeeds()]
    average = AverageIn() if cfg.optimizer.get("use_ema") else None
    if average is not None:  # before all that judges or keeps an epoch's weights
        found.append(average)
    if cfg.early_stopping_patience is not None:
        found.append(
            ResumableEarlyStopping(
                output_dir / "backup" / "early_stopping",
                monitor=cfg.monitor,
                patience=cfg.early_stopping_patience,
                restore_best_weights=True,
            )
        )
    if cfg.lr_schedule == Schedule.plateau:
        found.append(
            ResumablePlateau(
                output_dir / "backup" / "plateau",
                monitor=cfg.monitor,
                factor=cfg.plateau_factor,
                patience=cfg.plateau_patience,
                verbose=min(cfg.verbose, 1),  # a line each time it lowers the rate
            )
        )
    found += [
        BestCheckpoint(output_dir / "checkpoints", cfg.monitor),
        EpochMetrics(),
        StopOnDivergence(cfg.optimizer.get("learning_rate")),
        keras.callbacks.ModelCheckpoint(output_dir / "checkpoints" / "last.keras"),
    ]
    if average is not None:
        found.append(AverageOut(average))
    # Weights, optimizer and epoch after every epoch, kept only while the run is unfinished.
    # Last: a run killed before it has written an epoch's backup redoes the epoch, and with it
    # all that the callbacks above keep of it (a resume never continues past a half-written file).
    return [*found, Backup(output_dir / "backup")]
