"""runner.checks: the values refused before TensorFlow starts, each with the line that says how to fix it."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import compose

from runner.checks import check_added_keys, check_config, check_labels
from runner.errors import RunnerError
from runner.sources import FileIndex


def classes(n: int) -> FileIndex:
    """An index of one image in each of ``n`` classes (none: the images have no labels)."""
    return FileIndex(
        [f"{i}.png" for i in range(max(n, 1))], np.arange(n) if n else np.array([-1]), list("abcdefg"[:n])
    )


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        # Keras's EarlyStopping(patience=...): the runner's key for it, though plateau_patience is nearer.
        (
            ["+trainer.patience=3"],
            r"\+trainer.patience: no such key, .* Did you mean 'trainer.early_stopping_patience'\?",
        ),
        (["+lr=0.1"], r"\+lr: no such key, .* Did you mean 'trainer.optimizer.learning_rate'\?"),
        (["+tracking.tag=x"], r"\+tracking.tag: no such key, .* Did you mean 'tags'?"),
        (["aug=flip", "+aug.ops.flip.foo=1", "+aug.foo=1"], r"\+aug.foo: no such key"),
        (["+foo=1"], r"\+foo: no such key, .* Valid keys at the top: data, aug, model, trainer, tracking\."),
    ],
)
def test_a_key_added_past_the_schema_is_refused_since_nothing_would_read_it(overrides, says):
    with pytest.raises(RunnerError, match=says):
        check_config(compose(*overrides))


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["data.image_size=[0,10]"], "data.image_size=[0, 10]: needs [height, width], each at least 1 pixel"),
        (
            ["trainer.lr_schedule=cosine", "trainer.warmup_epochs=10"],
            "trainer.warmup_epochs=10: must be at least 0 and less than trainer.epochs=10",
        ),
        (
            ["trainer.lr_schedule=cosine", "~trainer.optimizer.learning_rate"],
            "trainer.lr_schedule=cosine: needs a number in trainer.optimizer.learning_rate",
        ),
        (
            ["trainer.monitor=val_acc"],
            "trainer.monitor=val_acc: not a metric .* Did you mean 'val_accuracy'?",
        ),
        (
            ["trainer.optimizer.learning_rate=-1"],
            "trainer.optimizer.learning_rate=-1: must be a number of at least 0",
        ),
        (["trainer.optimizer.learning_rate=fast"], "learning_rate=fast: must be a number of at least 0"),
        (
            ["+trainer.optimizer.beta_1=2"],
            "beta_1=2: must be at least 0 and less than 1, e.g. trainer.optimizer.beta_1=0.9.",
        ),
        (
            ["trainer.optimizer._target_=keras.optimizers.SGD", "+trainer.optimizer.momentum=-0.9"],
            "trainer.optimizer.momentum=-0.9: must be at least 0 and less than 1",
        ),
        (["+trainer.optimizer.epsilon=0"], "trainer.optimizer.epsilon=0: must be greater than 0, e.g. "),
        (["+trainer.optimizer.clipnorm=-1"], "trainer.optimizer.clipnorm=-1: must be greater than 0"),
        (["+trainer.optimizer.weight_decay=-0.1"], "trainer.optimizer.weight_decay=-0.1: must be at least 0"),
        (["trainer.early_stopping_patience=-1"], "trainer.early_stopping_patience=-1: must be at least 0"),
        (["model.filters=[8,0]"], "model.filters=[8, 0]: each needs at least 1"),
        (
            ["data.extensions=[]"],
            "data.extensions=[]: names no file type to read. List some, e.g. data.extensions",
        ),
        (["trainer.seed=-1"], "trainer.seed=-1: must be in 0..4294967295"),
        (
            ["model=application", "model.weights=imagenett"],
            "model.weights=imagenett: neither imagenet nor a weights file. Did you mean 'imagenet'?",
        ),
    ],
)
def test_values_wrong_on_their_face_are_refused_by_the_config_check(overrides, says):
    # What `python -m runner` prints as its one line before TensorFlow (tests/test_main.py runs the
    # command itself for others of these).
    with pytest.raises(RunnerError, match=re.escape(says).replace(r"\.\*", ".*")):
        check_config(compose(*overrides))


def test_keys_added_to_open_mappings_are_their_targets_arguments():
    for overrides in (
        ["+trainer.optimizer.momentum=0.9"],
        ["+tracking.tags.owner=ana"],
        ["model=application", "+model.backbone.alpha=0.35"],
        ["data=generator", "data.fn=a:b", "+data.kwargs.n=3"],
        ["aug=flip", "+aug.ops.flip.seed=1"],
    ):
        check_added_keys(compose(*overrides), "")


@pytest.mark.parametrize(
    ("overrides", "count", "says"),
    [
        (["data.label_mode=none"], 3, "data.label_mode=none: there are no labels to train on"),
        (["data.label_mode=binary"], 3, "data.label_mode=binary needs exactly 2 classes, found 3"),
        (["trainer.label_smoothing=0.1"], 3, "label_smoothing=0.1: .*add data.label_mode=categorical"),
        (["data.label_mode=categorical", "trainer.label_smoothing=1.0"], 3, "=1.0: must be .* less than 1"),
        (["trainer.top_k=3"], 3, "trainer.top_k=3: this run has 3 classes, so the true class is always"),
        (["data.label_mode=binary", "trainer.top_k=2"], 2, "trainer.top_k=2: this run has 2 classes"),
        # Files without labels, or of one class, hear that first: it is what to change.
        (
            ["data=glob", "data.pattern=*.png", "data.labels_from=none", "data.label_mode=binary"],
            0,
            "no labels to train on. Take them from .*data.labels_from=parent",
        ),
        (["data.label_mode=binary", "trainer.top_k=2"], 1, "one class only \\('a'\\); a classifier needs"),
    ],
)
def test_labels_that_cannot_train_are_refused_against_the_classes(overrides, count, says):
    with pytest.raises(RunnerError, match=says):
        check_labels(compose(*overrides), classes(count))


@pytest.mark.parametrize(
    ("overrides", "count"),
    [
        (["trainer.top_k=3"], 4),
        (["data.label_mode=binary", "trainer.label_smoothing=0.1"], 2),
        (["data.label_mode=categorical", "trainer.label_smoothing=0.3"], 3),
    ],
)
def test_labels_that_can_train_pass(overrides, count):
    check_labels(compose(*overrides), classes(count))


def several(n: int) -> FileIndex:
    """``classes(n)`` with several classes per image (data.label_mode=multi_hot's index)."""
    index = classes(n)
    index.multi = np.eye(n, dtype=np.uint8)
    return index


@pytest.mark.parametrize(
    ("overrides", "index", "says"),
    [
        # A folder or a generator gives one class per image.
        ([], classes(3), "data.label_mode=multi_hot: reads several classes per image from a CSV"),
        (["trainer.top_k=2"], several(3), "trainer.top_k=2: for one class per image, and .*multi_hot"),
        (["trainer.class_weight=balanced"], several(3), "trainer.class_weight=balanced: for one class"),
    ],
)
def test_what_needs_one_class_per_image_is_refused_for_several(overrides, index, says):
    with pytest.raises(RunnerError, match=says):
        check_labels(compose("data.label_mode=multi_hot", *overrides), index)
    check_labels(compose("data.label_mode=multi_hot", "trainer.label_smoothing=0.1"), several(3))


def measured(n: int) -> FileIndex:
    """``n`` images with a number each (data.label_mode=regression's index)."""
    return FileIndex(
        [f"{i}.png" for i in range(n)], np.zeros(n, np.int32), [], numbers=np.arange(n, dtype=np.float32)
    )


@pytest.mark.parametrize(
    ("overrides", "index", "says"),
    [
        # Class folders give classes.
        ([], classes(3), "data.label_mode=regression: reads a number per image from a CSV"),
        (["trainer.top_k=2"], measured(9), "trainer.top_k=2: is about classes, and .*regression predicts"),
        (["trainer.class_weight=balanced"], measured(9), "trainer.class_weight=balanced: is about classes"),
        (["trainer.label_smoothing=0.1"], measured(9), "trainer.label_smoothing=0.1: is about classes"),
        (["data=glob", "data.class_names=[a,b]"], measured(9), r"data.class_names=\['a', 'b'\]: is about"),
    ],
)
def test_what_is_about_classes_is_refused_for_a_number_per_image(overrides, index, says):
    with pytest.raises(RunnerError, match=says):
        check_labels(compose("data.label_mode=regression", "trainer.monitor=val_mae", *overrides), index)
    check_labels(compose("data.label_mode=regression", "trainer.monitor=val_mae"), measured(9))


def test_an_image_too_small_for_small_cnns_blocks_is_refused_before_tensorflow():
    from runner.checks import check_config

    check_config(compose("data.image_size=[4,4]"))  # 4 -> 2 -> 1 pixel: the smallest that builds
    with pytest.raises(
        RunnerError, match=r"data.image_size=\[3, 8\]: .*\(2 of them\), so each side needs at least 4"
    ):
        check_config(compose("data.image_size=[3,8]"))
    with pytest.raises(RunnerError, match=r"at least 8 pixels. Raise it \(e.g. data.image_size=\[32,32\]\)"):
        check_config(compose("data.image_size=[4,4]", "model.filters=[8,8,8]"))


def test_a_model_file_keras_cannot_load_is_refused_before_tensorflow(tmp_path):
    import keras

    from runner.checks import check_config
    from runner.models import small_cnn

    small_cnn((16, 16, 1), 3, filters=(4,), dense=8).save(tmp_path / "ok.keras")  # digits' shape
    small_cnn((16, 16, 3), 3, filters=(4,), dense=8).save(tmp_path / "rgb.keras")
    (tmp_path / "cut.keras").write_bytes((tmp_path / "ok.keras").read_bytes()[:4000])  # a copy cut short
    (tmp_path / "old.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))  # Keras 2's format
    (tmp_path / "old.keras").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))  # ... renamed
    check_config(compose("model=file", f"model.path={tmp_path / 'ok.keras'}"))
    inputs = keras.Input((None, None, 1))  # a model of any image size takes digits' 16x16 too
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    keras.Model(inputs, keras.layers.Dense(10)(pooled)).save(tmp_path / "any.keras")
    check_config(compose("model=file", f"model.path={tmp_path / 'any.keras'}"))
    for name, says in [
        ("cut.keras", "cut.keras: not a .keras file \\(a .keras file is a zip archive"),
        ("old.h5", "old.h5: an HDF5 file .*keras.models.load_model\\('.*old.h5'\\).save\\('old.keras'\\)"),
        ("old.keras", "old.keras: an HDF5 file"),
        ("missing.keras", "missing.keras: no .keras file there. Give a saved model"),
        (  # read from its config.json: loading it, in the run, would say so after the decode
            "rgb.keras",
            r"rgb.keras: takes images of shape \(16, 16, 3\), the data gives \(16, 16, 1\). Set "
            r"data.color_mode=rgb.$",
        ),
    ]:
        with pytest.raises(RunnerError, match=says):
            check_config(compose("model=file", f"model.path={tmp_path / name}"))


def test_a_model_file_for_other_classes_is_refused_once_the_classes_are_known(tmp_path):
    from runner.models import small_cnn

    small_cnn((16, 16, 1), 3, filters=(4,), dense=8).save(tmp_path / "three.keras")  # 3 classes
    cfg = compose("model=file", f"model.path={tmp_path / 'three.keras'}")
    index = FileIndex([f"/nowhere/{i}.png" for i in range(6)], np.array([0, 1, 2] * 2), list("abc"), [])
    check_labels(cfg, index)  # the classes it was trained for, read from its config.json
    index = FileIndex([f"/nowhere/{i}.png" for i in range(6)], np.array([0, 1] * 3), list("ab"), [])
    with pytest.raises(RunnerError, match=r"three.keras: gives 3 outputs, and this run needs 2 \(one per"):
        check_labels(cfg, index)


def test_a_sqlite_store_under_a_tilde_is_refused_with_the_full_path():
    # sqlite and MLflow read '~' as a folder's name: the store went into ./~/runs/mlflow.db.
    from pathlib import Path

    from runner.checks import check_config

    home = Path.home()
    with pytest.raises(RunnerError) as refused:
        check_config(compose("tracking.uri='sqlite:///~/runs/mlflow.db'"))
    assert str(refused.value) == (
        "tracking.uri=sqlite:///~/runs/mlflow.db: '~' is not your home folder here; the store would "
        f"go in a folder named '~' in this one. Give the full path: tracking.uri=sqlite:///{home}/runs/mlflow.db"
    )


def test_an_experiment_with_no_name_is_refused_before_the_store_is_opened():
    from runner.checks import check_config

    for name in ["''", "'  '"]:
        with pytest.raises(RunnerError, match="an experiment needs a name, e.g. tracking.experiment=pets"):
            check_config(compose(f"tracking.experiment={name}"))


def test_a_registered_name_mlflow_would_refuse_after_training_is_refused_before():
    from runner.checks import check_config

    for name, fixed in [("pets/v1", "pets-v1"), ("team:pets", "team-pets")]:
        with pytest.raises(RunnerError) as refused:
            check_config(compose(f"tracking.register_as={name}"))
        assert str(refused.value) == (
            f"tracking.register_as={name}: a registered model's name cannot contain '/' or ':' (it is "
            f"read back as models:/NAME/VERSION), e.g. tracking.register_as={fixed}."
        )
        check_config(compose(f"tracking.register_as={fixed}"))
