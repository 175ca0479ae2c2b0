"""The tf.data side: stratified seeded split, uint8 batches, label encodings."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from runner.config import LabelMode
from runner.errors import RunnerError
from runner.pipeline import batches, label_encoder, stratified_split


def test_split_is_stratified_and_seeded():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    train, val = stratified_split(labels, 0.2, seed=1)
    assert len(val) == 20 and len(set(train) | set(val)) == 100 and not set(train) & set(val)
    assert np.bincount(labels[val]).tolist() == [10, 6, 4]
    again, _ = stratified_split(labels, 0.2, seed=1)
    other, _ = stratified_split(labels, 0.2, seed=2)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


def test_split_too_small_is_a_clear_error():
    with pytest.raises(RunnerError, match="data.validation_split=0.2: cannot split 4 images by class"):
        stratified_split(np.array([0, 1, 2, 3]), 0.2, seed=0)


def test_batches_gather_uint8_rows_and_shuffle_by_seed():
    images = np.arange(10, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 3), dtype=np.uint8)
    rows, labels = np.arange(10), np.arange(10) % 2

    def first_epoch(seed):
        return [(x.numpy(), y.numpy()) for x, y in batches(images, rows, labels, 4, shuffle_seed=seed)]

    plain = [(x.numpy(), y.numpy()) for x, y in batches(images, rows, labels, 4)]
    assert [x.shape for x, _ in plain] == [(4, 4, 4, 3), (4, 4, 4, 3), (2, 4, 4, 3)]
    assert plain[0][0].dtype == np.uint8
    assert np.concatenate([x[:, 0, 0, 0] for x, _ in plain]).tolist() == list(range(10))
    shuffled = first_epoch(7)
    order = np.concatenate([x[:, 0, 0, 0] for x, _ in shuffled])
    assert sorted(order.tolist()) == list(range(10)) and order.tolist() != list(range(10))
    assert np.array_equal(np.concatenate([y for _, y in shuffled]), order % 2)  # labels travel with images
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(shuffled, first_epoch(7), strict=True))


def test_label_encoders():
    y = tf.constant([0, 2, 1])
    assert label_encoder(LabelMode.int, 3)(y).numpy().tolist() == [0, 2, 1]
    assert label_encoder(LabelMode.categorical, 3)(y).numpy().tolist()[1] == [0.0, 0.0, 1.0]
    assert label_encoder(LabelMode.binary, 2)(tf.constant([1, 0])).numpy().tolist() == [[1.0], [0.0]]
    with pytest.raises(RunnerError, match="binary needs exactly 2 classes"):
        label_encoder(LabelMode.binary, 3)


def test_cache_none_decodes_every_epoch_and_drops_bad_files(tmp_path):
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
    for _ in range(2):  # the truncated PNG and the corrupt JPEG are dropped each epoch, never raised
        batches = list(data.train)
        assert sum(int(x.shape[0]) for x, _ in batches) == good
        assert batches[0][0].dtype == tf.uint8 and batches[0][0].shape[1:] == (16, 16, 3)


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
