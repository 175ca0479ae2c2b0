"""The run's backup after each epoch, which ``python -m runner.rerun RUN_ID --resume`` continues
from: Keras's ``BackupAndRestore``, laid out so that a kill at any moment leaves a whole one."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import keras


class Backup(keras.callbacks.BackupAndRestore):
    """Keras's ``BackupAndRestore`` (weights, optimizer and epoch after each epoch) in ``folder``,
    safe to kill at any moment. Keras rewrites its two files in place, weights then epoch: a run
    killed while it wrote them kept a backup that fails to load, or one epoch's weights under the
    next one's number. So Keras writes into ``folder/keras``, and once it has, its files move into
    ``epoch-N/``, renamed into place whole before the one before is deleted: the newest ``epoch-N``
    is always complete, and ``put_back`` returns it to ``keras/`` when a run is resumed."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder / "keras")
        self.folder = folder

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        partial = self.folder / f"partial-epoch-{epoch}"
        shutil.rmtree(partial, ignore_errors=True)  # of a run killed here
        Path(self.backup_dir).replace(partial)
        shutil.rmtree(self.folder / f"epoch-{epoch}", ignore_errors=True)
        partial.replace(self.folder / f"epoch-{epoch}")
        for older in self.published(self.folder)[:-1]:
            shutil.rmtree(older)

    def on_train_end(self, logs: dict | None = None) -> None:
        super().on_train_end(logs)
        shutil.rmtree(self.folder, ignore_errors=True)  # finished: the counters beside it too

    @staticmethod
    def published(folder: Path) -> list[Path]:
        """The complete backups in ``folder``, oldest first."""
        return sorted(folder.glob("epoch-*"), key=lambda path: int(path.name.removeprefix("epoch-")))

    @classmethod
    def put_back(cls, folder: Path) -> None:
        """Make the newest complete backup in ``folder`` the one Keras restores; with none, Keras
        finds nothing and the run starts at epoch 0. (An older runner's backup, Keras's files in
        ``folder`` itself, is moved in as it is.)"""
        keras_dir = folder / "keras"
        shutil.rmtree(keras_dir, ignore_errors=True)  # what a run killed while Keras wrote left
        if found := cls.published(folder):
            shutil.copytree(found[-1], keras_dir)
        elif (folder / "training_metadata.json").exists():
            keras_dir.mkdir()
            for file in (f for f in folder.iterdir() if f.is_file()):
                file.replace(keras_dir / file.name)

    @staticmethod
    def unreadable(folder: Path) -> str | None:
        """Which file of the backup in ``folder`` cannot be read, and why (cut short by a disk error
        or an interrupted copy: Keras, or a counter beside it, would fail on it once ``fit`` began);
        or None. Partial files, of a run killed while it wrote them, are not read on resume."""
        import h5py
        import numpy as np

        read = [p.relative_to(folder) for p in folder.rglob("*") if p.is_file()]
        for name in sorted(p for p in read if not any(part.startswith("partial-") for part in p.parts)):
            path = folder / name
            try:
                if path.suffix == ".h5":  # Keras's weights and optimizer state
                    h5py.File(path, "r").close()
                elif path.suffix == ".json":  # Keras's epoch; early stopping's and the plateau's counters
                    json.loads(path.read_text())
                elif path.suffix == ".npz":  # early stopping's best weights
                    with np.load(path) as saved:
                        for array in saved.files:
                            saved[array]  # read whole: a file cut short fails here
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
                return f"{name}: {err}"
        return None

    @staticmethod
    def resumed_epoch(folder: Path) -> int:
        """The epoch Keras continues at from the backup ``put_back`` put in ``folder``: the one
        after the last epoch saved; 0 without one. The training batches must begin there too."""
        metadata = folder / "keras" / "training_metadata.json"
        return int(json.loads(metadata.read_text())["epoch"]) if metadata.exists() else 0
