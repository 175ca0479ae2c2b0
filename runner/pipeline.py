"""File index -> tf.data: decode once into the cache, split, shuffle indices, gather batches.

The order of work per training batch: slice its positions from its epoch's permutation (a
function of the seed and the epoch alone, so a resumed run sees the same batches), gather those
rows from the uint8 cache, augment (only when ``aug.placement=pipeline``, after the cache so
cached images stay un-augmented), prefetch. Images stay uint8 until the model's Rescaling layer.

Nothing in the pipeline reads a variable or other TensorFlow state: with op determinism on
(``trainer.deterministic``, the default) tf.data would otherwise run every map of it on one
thread and prefetch nothing (its ``make_deterministic`` rewrite), so ``fit`` would wait on input.
The epoch comes from the dataset itself (one dataset spans the run's epochs) and augmentation
draws from seeds of the batch's step (``augment.apply``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from runner import cache, fill
from runner.augment import Augment
from runner.cpus import usable_cores
from runner.decode import Decoder
from runner.prepare import Prepared, prepare
from runner.schemas.data import DataConfig, LabelMode
from runner.sources import FileIndex

log = logging.getLogger(__name__)


@dataclass
class Data(Prepared):
    train: tf.data.Dataset  # all the run's training epochs, one after another, ``steps`` batches each
    val: tf.data.Dataset | None
    test: tf.data.Dataset | None  # data.test_path: evaluated once, after training
    steps: int  # training batches per epoch


def permutation(size: int, seed: int, epoch: tf.Tensor) -> tf.Tensor:
    """Epoch ``epoch``'s order of ``size`` positions: a function of the seed and the epoch alone, so
    a resumed run deals the batches an uninterrupted one would have."""
    seed_pair = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])
    return tf.random.experimental.stateless_shuffle(tf.range(size, dtype=tf.int64), seed=seed_pair)


def positions(size: int, batch_size: int, seed: int, epochs: range | None) -> tf.data.Dataset:
    """(positions, step) of each batch: for each of ``epochs`` its permutation in slices, or once
    in order (``epochs=None``). ``step`` numbers the batches of the run (augmentation's seeds).
    Dataset ops, not a map that slices: ~25% faster warm epochs (runner.bench)."""
    steps = -(-size // batch_size)
    if epochs is None:
        in_order = tf.data.Dataset.range(size).batch(batch_size)
        return tf.data.Dataset.zip(in_order, tf.data.Dataset.range(steps))

    @tf.autograph.experimental.do_not_convert
    def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
        rows = tf.data.Dataset.from_tensor_slices(permutation(size, seed, epoch)).batch(batch_size)
        return tf.data.Dataset.zip(rows, tf.data.Dataset.range(epoch * steps, (epoch + 1) * steps))

    return tf.data.Dataset.range(epochs.start, epochs.stop).flat_map(epoch_batches)


Load = Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]
# One batch per core in flight and two per core ready, fixed: with tf.data's autotuning on, whole
# passes ran at exactly half speed at random (measured on 2 cores: 1 pass in 3, warm and cold,
# for any parallelism or prefetch setting), and its growing buffers cost memory for nothing.
FIXED = tf.data.Options()
FIXED.autotune.enabled = False


def batches(
    images: tf.Variable | np.ndarray | Decoder,
    keys: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    epochs: range | None = None,
    seed: int = 0,
    augment: Augment | None = None,
    encode: Callable[[tf.Tensor], tf.Tensor] = tf.identity,
) -> tf.data.Dataset:
    """Batches of (uint8 images, ``encode``d labels) for the images at ``keys``: those of each of
    ``epochs`` in its own order (training), or once in order. Batch ``i`` is one parallel map call:
    its images, then their augmentation.

    ``images`` is the memory cache (a variable, ``keys`` are rows: one ``tf.gather`` per batch, no
    GIL), the rows of a cache as NumPy sees them (a disk cache's memmap, a memory cache's view:
    NumPy reads the rows), or, with ``data.cache=none``, the decoder itself (``keys`` are paths,
    decoded every epoch by ``decoded``)."""
    labels_t = tf.constant(labels.astype(np.float32 if labels.dtype.kind == "f" else np.int32))
    keys_t, load = tf.constant(keys), loader(images, labels_t.shape[1:], labels_t.dtype)

    # Plain TF ops, no tensor-dependent Python branches: AutoGraph's conversion is skipped, which
    # took ~0.17 s of each first build (a fresh process's first pass: ~5% faster).
    @tf.autograph.experimental.do_not_convert
    def batch(rows: tf.Tensor, step: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x, y = load(tf.gather(keys_t, rows), tf.gather(labels_t, rows))
        return (x, encode(y)) if augment is None else augment(x, encode(y), step)

    cores = usable_cores()
    ds = positions(len(keys), batch_size, seed, epochs).map(batch, num_parallel_calls=cores)
    return ds.prefetch(2 * cores).with_options(FIXED)


def loader(
    images: tf.Variable | np.ndarray | Decoder, label_shape: tuple[int, ...], label_type: tf.DType
) -> Load:
    """(keys, labels) of a batch -> (uint8 images, labels); each label of ``label_shape``."""
    if isinstance(images, Decoder):
        return decoded(images, label_shape, label_type)
    if isinstance(images, np.ndarray):
        return read_rows(images)

    def gather(rows: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.gather(images, rows), y

    return gather


def read_rows(images: np.ndarray) -> Load:
    """Rows of a NumPy array: a disk cache's memmap, or the view of a memory cache."""
    shape = tuple(images.shape[1:])

    def read(rows: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        pixels = tf.numpy_function(lambda r: images[r], [rows], tf.uint8, stateful=False)
        pixels.set_shape((None, *shape))
        return pixels, y

    return read


def decoded(decoder: Decoder, label_shape: tuple[int, ...], label_type: tf.DType) -> Load:
    """``data.cache=none``: a batch of paths -> (uint8 images, labels), decoded in one NumPy call
    (one hand-off per batch, not per image); a file that fails is dropped from its batch, and said
    once (a folder changed under a run failed 180 files a line each, every epoch)."""
    said: set[str] = set()

    def decode(paths: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        files = [path.decode() for path in paths]
        images, good, bad = fill.decode_batch(files, decoder, threads=False)
        for i, reason in bad.items():
            if files[i] not in said:
                said.add(files[i])
                log.warning("left out wherever it comes up (said once): %s (%s)", files[i], reason)
        return images, labels[good]

    def batch(paths: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x, y = tf.numpy_function(decode, [paths, labels], (tf.uint8, label_type), stateful=False)
        x.set_shape((None, *decoder.shape))
        y.set_shape((None, *label_shape))
        return x, y

    return batch


def label_encoder(mode: LabelMode, num_classes: int) -> Callable[[tf.Tensor], tf.Tensor]:
    """int labels (0/1 rows for ``multi_hot``, numbers for ``regression``) -> what the loss for
    ``data.label_mode`` expects (``checks.check_labels`` refused ``none``, and ``binary`` without
    two classes)."""
    if mode == LabelMode.regression:
        return lambda y: tf.reshape(y, (-1, 1))
    if mode == LabelMode.multi_hot:
        return lambda y: tf.cast(y, tf.float32)
    if mode == LabelMode.categorical:
        return lambda y: tf.one_hot(y, num_classes)
    if mode == LabelMode.binary:
        return lambda y: tf.cast(tf.reshape(y, (-1, 1)), tf.float32)
    return tf.identity


def build(
    cfg: DataConfig,
    index: FileIndex,
    seed: int,
    augment: Augment | None = None,
    epochs: range = range(1),
    deterministic: bool = False,
) -> Data:
    """Decode, split and batch ``index``: the training batches of ``epochs`` (a resumed run's
    begin at its epoch), augmented in tf.data by ``augment``; validation and test batches once.
    ``deterministic``: op determinism is on (``trainer.deterministic``), so no batch may read state."""
    prepared = prepare(cfg, index, seed)
    images, keys, index = prepared.images, prepared.keys, prepared.index
    if deterministic and isinstance(images, tf.Variable):
        # A tf.gather from the variable is twice as fast as NumPy's row read, but under op
        # determinism it would make tf.data run the whole pipeline on one thread.
        images = cache.numpy_view(images)
    train, val, test = (np.flatnonzero(prepared.split == part) for part in ("train", "val", "test"))
    encode = label_encoder(cfg.label_mode, len(index.class_names))
    labels = index.targets

    def unshuffled(rows: np.ndarray) -> tf.data.Dataset | None:  # validation and test images
        if not len(rows):
            return None
        return batches(images, keys[rows], labels[rows], cfg.batch_size, encode=encode)

    return Data(
        **vars(prepared),
        train=batches(images, keys[train], labels[train], cfg.batch_size, epochs, seed, augment, encode),
        val=unshuffled(val),
        test=unshuffled(test),
        steps=-(-len(train) // cfg.batch_size),
    )
