"""Callbacks whose own counters a resumed run needs and Keras's backup does not hold (it saves
weights, optimizer and epoch): early stopping's and the plateau schedule's, saved after each epoch
beside the backup, so a resumed run stops and lowers the rate where the uninterrupted one would."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np


class Resumable(keras.callbacks.Callback):
    """A callback whose own counters are saved after each epoch in ``folder``, so that a resumed
    run carries on with them where the uninterrupted one would have (Keras's backup holds only
    weights, optimizer and epoch). Subclasses say what their ``state`` is and how to ``load`` it.

    It runs before ``BackupAndRestore``, so a run killed between the two saves has a state one
    epoch ahead of the backup: the last two states are kept, and a resume takes the one for the
    epoch before the one it starts at. ``folder`` is inside the backup's folder: deleted with it
    when the run finishes, logged and restored with it."""

    KEEP = 2

    def __init__(self, folder: Path, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.folder, self.restored = folder, False

    def state(self) -> dict:
        raise NotImplementedError

    def load(self, state: dict) -> None:
        raise NotImplementedError

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        self.restored = False

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_begin(epoch, logs)
        if not self.restored:  # the first epoch of this fit: a resume's begins after a saved one
            self.restored = True
            self.restore(epoch - 1)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        self.save(epoch)

    def states(self) -> list[dict]:
        path = self.folder / "states.json"
        return json.loads(path.read_text()) if path.exists() else []

    def save(self, epoch: int) -> list[dict]:
        """Write this epoch's state beside the one before; the states kept."""
        self.folder.mkdir(parents=True, exist_ok=True)
        kept = [*(s for s in self.states() if s["epoch"] < epoch), {"epoch": epoch, **self.state()}]
        kept = kept[-self.KEEP :]
        partial = self.folder / "partial-states.json"
        partial.write_text(json.dumps(kept))
        partial.replace(self.folder / "states.json")
        return kept

    def restore(self, epoch: int) -> None:
        """The state saved at the end of ``epoch``, if there is one."""
        state = next((s for s in self.states() if s["epoch"] == epoch), None)
        if state is not None:
            self.load(state)


class ResumableEarlyStopping(Resumable, keras.callbacks.EarlyStopping):
    """``EarlyStopping`` that keeps its count, best value and best weights across a resume."""

    def state(self) -> dict:
        weights = None
        if self.best_weights is not None:
            weights = f"best-{self.best_epoch}.npz"
            if not (self.folder / weights).exists():
                np.savez(self.folder / f"partial-{weights}", *self.best_weights)
                (self.folder / f"partial-{weights}").replace(self.folder / weights)
        best = None if self.best is None else float(self.best)
        return {"wait": self.wait, "best": best, "best_epoch": self.best_epoch, "weights": weights}

    def save(self, epoch: int) -> list[dict]:
        kept = super().save(epoch)
        needed = {self.folder / s["weights"] for s in kept if s["weights"]}
        for old in set(self.folder.glob("best-*.npz")) - needed:
            old.unlink()
        return kept

    def load(self, state: dict) -> None:
        self.wait, self.best, self.best_epoch = state["wait"], state["best"], state["best_epoch"]
        if state["weights"]:
            with np.load(self.folder / state["weights"]) as saved:
                self.best_weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]


class ResumablePlateau(Resumable, keras.callbacks.ReduceLROnPlateau):
    """``ReduceLROnPlateau`` that keeps its count, best value and cooldown across a resume; the
    reduced rate itself is an optimizer variable, which Keras's backup holds."""

    def state(self) -> dict:
        best = None if self.best is None else float(self.best)
        return {"wait": self.wait, "best": best, "cooldown_counter": self.cooldown_counter}

    def load(self, state: dict) -> None:
        self.wait, self.best, self.cooldown_counter = state["wait"], state["best"], state["cooldown_counter"]
