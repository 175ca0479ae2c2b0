"""The run's backup: whole after a kill at any moment, and read back by a resume."""

from __future__ import annotations

import subprocess
import sys
import time

import keras
import numpy as np

from runner.backup import Backup


def test_a_backup_killed_while_written_resumes_from_a_whole_epoch(tmp_path):
    # Keras's BackupAndRestore rewrites its weights file in place, then the epoch: killed in
    # between (preempted, out of memory), it left a file that fails to load, or a mismatch.
    script = """
import sys
from pathlib import Path
import keras, numpy as np
from runner.callbacks import Backup
model = keras.Sequential([keras.Input((1000,)), keras.layers.Dense(4000)])
model.compile("adam", "mse")
model.optimizer.build(model.trainable_variables)  # 48 MB to write, with Adam's two moments
backup = Backup(Path(sys.argv[1]))
backup.set_model(model)
for epoch in range(100000):
    model.set_weights([np.full_like(w, epoch) for w in model.get_weights()])
    backup.on_epoch_end(epoch)
    print(epoch, flush=True)
"""
    folders = [tmp_path / f"run{i}" for i in range(3)]
    runs = [
        subprocess.Popen([sys.executable, "-c", script, f], stdout=subprocess.PIPE, text=True)
        for f in folders
    ]
    for run, delay in zip(runs, (0.05, 0.2, 0.45), strict=True):  # killed at three moments
        assert run.stdout.readline() == "0\n"
        time.sleep(delay)
        run.kill()
        run.wait()
    for folder in folders:
        Backup.put_back(folder)
        epoch = Backup.resumed_epoch(folder)
        model = keras.Sequential([keras.Input((1000,)), keras.layers.Dense(4000)])
        model.compile("adam", "mse")
        restored = keras.callbacks.BackupAndRestore(folder / "keras")  # as fit's Backup reads it
        restored.set_model(model)
        restored.on_train_begin()
        assert epoch >= 1 and all((w == epoch - 1).all() for w in model.get_weights())


def test_a_backup_of_an_older_runner_resumes_too(tmp_path):
    # Before Backup, the run's backup folder held Keras's own files: put_back hands them to Keras.
    def model() -> keras.Model:
        built = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
        built.compile("adam", "mse")
        return built

    older = model()
    keras_backup = keras.callbacks.BackupAndRestore(tmp_path)
    keras_backup.set_model(older)
    older.set_weights([np.full_like(w, 7) for w in older.get_weights()])
    keras_backup.on_epoch_end(4)
    Backup.put_back(tmp_path)
    assert Backup.resumed_epoch(tmp_path) == 5
    restored = model()
    fit_reads = Backup(tmp_path)
    fit_reads.set_model(restored)
    fit_reads.on_train_begin()
    assert all((w == 7).all() for w in restored.get_weights())


def test_a_backup_cut_short_since_names_the_file_a_resume_would_fail_on(tmp_path):
    # A disk error, or a copy of the output folder that stopped: Keras failed on the weights inside
    # fit, early stopping on its best weights. A partial file (a kill while writing) is never read.
    built = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    built.compile("adam", "mse")
    backup = Backup(tmp_path)
    backup.set_model(built)
    backup.on_epoch_end(1)
    (tmp_path / "early_stopping").mkdir()
    np.savez(tmp_path / "early_stopping" / "best.npz", *built.get_weights())
    (tmp_path / "early_stopping" / "states.json").write_text('[{"wait": 1, "weights": "best.npz"}]')
    (tmp_path / "early_stopping" / "partial-states.json").write_text('[{"wai')
    Backup.put_back(tmp_path)
    assert Backup.unreadable(tmp_path) is None
    for name in ("early_stopping/best.npz", "epoch-1/latest.weights.h5", "early_stopping/states.json"):
        whole = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(whole[: len(whole) // 2])
        assert Backup.unreadable(tmp_path).startswith(f"{name}: "), name
        (tmp_path / name).write_bytes(whole)
