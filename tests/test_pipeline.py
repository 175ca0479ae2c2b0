"""The tf.data side: uint8 batches in a seeded order, label encodings, what build refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from runner.errors import RunnerError
from runner.pipeline import batches, build, label_encoder
from runner.schemas.data import LabelMode


def test_folds_over_images_that_all_have_their_split_are_refused_before_decoding():
    from runner.schemas.data import DataConfig
    from runner.sources import FileIndex

    placed = FileIndex(["/nowhere/a.png", "/nowhere/b.png"], np.array([0, 1]), ["cat", "dog"], [],
                       split=np.array(["train", "val"], dtype=object))  # fmt: skip
    with pytest.raises(RunnerError, match="data.folds=3: every image already has its split"):
        build(DataConfig(folds=3), placed, seed=0)


def test_batches_gather_uint8_rows_in_an_order_set_by_seed_and_epoch():
    images = np.arange(10, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 3), dtype=np.uint8)
    rows, labels = np.arange(10), np.arange(10) % 2

    def read(epochs: range | None = None, seed: int = 7) -> list[tuple[list[int], list[int]]]:
        """Each epoch read: the rows in the order dealt (from the pixels), and their labels."""
        dealt = [(x.numpy(), y.numpy()) for x, y in batches(images, rows, labels, 4, epochs, seed)]
        assert [x.shape for x, _ in dealt[:3]] == [(4, 4, 4, 3), (4, 4, 4, 3), (2, 4, 4, 3)]
        assert dealt[0][0].dtype == np.uint8
        by_epoch = [dealt[i : i + 3] for i in range(0, len(dealt), 3)]
        return [
            (
                np.concatenate([x[:, 0, 0, 0] for x, _ in epoch]).tolist(),
                np.concatenate([y for _, y in epoch]).tolist(),
            )
            for epoch in by_epoch
        ]

    assert read() == [(list(range(10)), [i % 2 for i in range(10)])]  # validation: once, in order
    epochs = read(range(3))
    assert len(epochs) == 3 and len({tuple(e) for e, _ in epochs}) == 3  # a new order each epoch
    for dealt, dealt_labels in epochs:
        assert sorted(dealt) != dealt and sorted(dealt) == list(range(10))
        assert dealt_labels == [i % 2 for i in dealt]  # labels travel with their images
    assert read(range(3)) == epochs and read(range(3), seed=8) != epochs
    assert read(range(2, 3)) == epochs[2:]  # a run resumed at epoch 2 deals what the uninterrupted one did


def stateful_ops(ds: tf.data.Dataset) -> set[str]:
    """The ops in ``ds``'s functions that TensorFlow counts as stateful, bar the source datasets
    that op determinism's tf.data rewrite allows (its kDeterministicStatefulOps)."""
    from tensorflow.python.framework import op_def_registry

    graph = tf.compat.v1.GraphDef.FromString(ds._as_serialized_graph().numpy())
    ops = {node.op for function in graph.library.function for node in function.node_def}
    allowed = {"RangeDataset", "TensorSliceDataset"}
    return {op for op in ops if getattr(op_def_registry.get(op), "is_stateful", False)} - allowed


@pytest.mark.parametrize(
    ("cache", "aug"),
    [("memory", aug) for aug in ("none", "standard", "idg", "randaugment", "mixup", "cutmix")]
    + [("disk", "none"), ("disk", "standard"), ("none", "standard")],
)
def test_a_deterministic_runs_pipeline_reads_no_state_so_op_determinism_keeps_it_parallel(
    cache, aug, tmp_path
):
    """With op determinism on (trainer.deterministic), tf.data runs every map of a pipeline on one
    thread and prefetches nothing if any of its functions reads or writes state: an epoch counter
    in a variable, an augmentation layer's seed generator, the memory cache's variable. Measured
    with aug=standard on 224² photos: 860-890 ms a step that way, 655-750 without."""
    from conftest import compose, photo_folder

    from runner import augment
    from runner.sources import DirSource

    photo_folder(tmp_path / "photos", per_class=4)
    cfg = compose(
        "data=dir",
        f"data.path={tmp_path / 'photos'}",
        "data.image_size=[8,8]",
        "data.batch_size=4",
        f"data.cache={cache}",
        f"data.cache_dir={tmp_path / 'cache'}",
        "data.label_mode=categorical",
        f"aug={aug}",
    )
    stack = augment.layers(cfg.aug, seed=0)
    index = DirSource(path=str(tmp_path / "photos")).index()
    run = build(cfg.data, index, 0, augment.apply(stack) if stack else None, range(2), deterministic=True)
    assert stateful_ops(run.train) == set() and stateful_ops(run.val) == set()
    assert len(list(run.train)) == 2 * run.steps  # both epochs
    if cache == "memory":  # without op determinism the gather from the variable, twice as fast
        assert "ResourceGather" in str(build(cfg.data, index, 0).val._as_serialized_graph().numpy())


def test_batches_run_with_fixed_parallelism_not_autotuned():
    """With autotuning on, whole passes ran at half speed at random (runner.bench, 2 cores)."""
    ds = batches(np.zeros((4, 2, 2, 3), np.uint8), np.arange(4), np.zeros(4), 2, range(1))
    assert ds.options().autotune.enabled is False


def test_label_encoders():
    y = tf.constant([0, 2, 1])
    assert label_encoder(LabelMode.int, 3)(y).numpy().tolist() == [0, 2, 1]
    assert label_encoder(LabelMode.categorical, 3)(y).numpy().tolist()[1] == [0.0, 0.0, 1.0]
    assert label_encoder(LabelMode.binary, 2)(tf.constant([1, 0])).numpy().tolist() == [[1.0], [0.0]]
    rows = tf.constant([[1, 0, 1], [0, 0, 0]])  # several classes per image, or none
    assert label_encoder(LabelMode.multi_hot, 3)(rows).numpy().tolist() == [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]


@pytest.mark.parametrize("cached", [True, False])
@pytest.mark.parametrize(
    ("mode", "labels", "expected"),
    [
        # Several classes per image (or none), and a number per image: not cast to class numbers.
        (LabelMode.multi_hot, np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [0, 1, 1]], np.uint8), None),
        (
            LabelMode.regression,
            np.array([0.25, 17.5, -3.0, 1e6], np.float32),
            [[0.25], [17.5], [-3.0], [1e6]],
        ),
    ],
)
def test_labels_travel_with_their_images(mode, labels, expected, cached, tmp_path):
    from conftest import write_image

    from runner.decode import Decoder
    from runner.schemas.data import ColorMode, Interpolation

    paths = [str(write_image(tmp_path / f"{i}.png", colour=(60 * i, 0, 0))) for i in range(4)]
    decoder = Decoder(8, 8, ColorMode.rgb, Interpolation.bilinear)
    images = np.stack([decoder(path) for path in paths]) if cached else decoder
    keys = np.arange(4) if cached else np.array(paths)
    [(x, y)] = list(batches(images, keys, labels, 4, encode=label_encoder(mode, 3)))
    assert y.dtype == tf.float32 and y.numpy().tolist() == (expected or labels.tolist())
    assert [int(red) for red in x.numpy()[:, 4, 4, 0]] == [int(decoder(p)[4, 4, 0]) for p in paths]


def test_cache_none_decodes_every_epoch_and_drops_bad_files(tmp_path, caplog):
    from conftest import compose, messy_folder

    from runner import pipeline
    from runner.sources import DirSource

    root, _, good = messy_folder(tmp_path / "messy")
    cfg = compose(
        "data=dir",
        f"data.path={root}",
        "data.cache=none",
        "data.validation_split=0",
        "data.image_size=[16,16]",
    ).data
    data = pipeline.build(cfg, DirSource(path=str(root)).index(), seed=0)
    for _ in range(2):  # the bad files are dropped each epoch, never raised
        batches = list(data.train)
        assert sum(int(x.shape[0]) for x, _ in batches) == good
        assert batches[0][0].dtype == tf.uint8 and batches[0][0].shape[1:] == (16, 16, 3)
    said = [Path(r.args[0]).name for r in caplog.records if r.msg.startswith("left out wherever")]
    assert sorted(said) == ["empty.jpg", "garbage.jpg", "text.jpg", "truncated.png"]  # once each


def test_one_class_is_a_clear_error(tmp_path):
    from conftest import compose, write_image

    from runner import pipeline
    from runner.sources import DirSource

    for i in range(4):
        write_image(tmp_path / "cats" / f"{i}.png")
    cfg = compose("data=dir", f"data.path={tmp_path}", "data.image_size=[8,8]").data
    with pytest.raises(
        RunnerError, match="data: one class only \\('cats'\\); a classifier needs at least two"
    ):
        pipeline.build(cfg, DirSource(path=str(tmp_path)).index(), seed=0)
