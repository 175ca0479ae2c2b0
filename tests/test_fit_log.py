"""What fit logs into its run beside the epochs: here, what MLflow would refuse of it."""

from __future__ import annotations

import shutil

import mlflow
import numpy as np
from conftest import client, empty_store

from runner.fit_log import log_class_weights
from runner.store import connect


def test_class_weights_of_any_folder_names_are_params(tmp_path):
    # MLflow refuses "(", "&", "'" or "," in a key: a folder "cat (wild)" stopped a balanced run.
    shutil.copy(empty_store(), tmp_path / "mlflow.db")
    connect(f"sqlite:///{tmp_path}/mlflow.db", "runner")  # this store, and an experiment of it
    with mlflow.start_run() as run:
        log_class_weights(["cat (wild)", "cat [wild]", "dog's & co", "owl"], np.array([0.5, 1, 2, 4]))
    assert client(tmp_path).get_run(run.info.run_id).data.params == {
        "trainer.class_weight.cat _wild_:0": "0.5",
        "trainer.class_weight.cat _wild_:1": "1.0",  # two names that read alike stay two keys
        "trainer.class_weight.dog_s _ co:2": "2.0",
        "trainer.class_weight.owl": "4.0",
    }
