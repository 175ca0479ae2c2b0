"""The loaders ``python -m runner.bench`` compares, each built fresh per pass on the same files,
and the two other comparisons: cache memory, and ``model.fit`` epoch time."""

from __future__ import annotations

import itertools
import os
import statistics
import time
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

from runner.bench.measure import Loader


def loaders(root: Path, size: int, batch: int, epochs: int = 2) -> dict[str, Loader]:
    """Each loader's epochs of the files, read as ``fit`` reads them: Keras's loaders' one epoch
    per iterator; the runner's ``epochs``, each in its own order, from one (``Epochs``)."""
    import keras
    import tensorflow as tf

    from runner import pipeline
    from runner.cpus import usable_cores
    from runner.schemas.data import Cache
    from runner.sources import DirSource

    auto = tf.data.AUTOTUNE

    def runner(cache: Cache = Cache.memory) -> Epochs:
        source = DirSource(
            path=str(root), image_size=[size, size], batch_size=batch, validation_split=0.0, cache=cache
        )
        data = pipeline.build(source, source.index(), seed=0, epochs=range(epochs))
        return Epochs(data.train, data.steps)

    def ids() -> Iterable:
        return keras.utils.image_dataset_from_directory(
            root, image_size=(size, size), batch_size=batch, verbose=False
        ).prefetch(auto)

    def manual() -> Iterable:
        classes = tf.constant(sorted(p.name for p in root.iterdir() if p.is_dir()))

        def load(path: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
            label = tf.argmax(tf.cast(tf.equal(classes, tf.strings.split(path, os.sep)[-2]), tf.int32))
            return tf.image.resize(image, (size, size)), label

        files = tf.data.Dataset.list_files(str(root / "*" / "*"), shuffle=True, seed=0)
        return files.map(load, num_parallel_calls=auto).batch(batch).prefetch(auto)

    def idg() -> Iterable:
        from keras.src.legacy.preprocessing.image import ImageDataGenerator

        flow = ImageDataGenerator().flow_from_directory(
            root, target_size=(size, size), batch_size=batch, class_mode="sparse"
        )
        return EpochsOf(flow)

    def decode() -> Iterable:
        files = tf.data.Dataset.list_files(str(root / "*" / "*"), shuffle=False)
        # Each image is reduced to its shape: the decode's cost alone, no copy or batching of pixels.
        # Fixed parallelism, autotuning off, as the runner's: its fastest steady form (see FIXED).
        shapes = files.map(
            lambda p: tf.shape(tf.io.decode_jpeg(tf.io.read_file(p), channels=3)),
            num_parallel_calls=usable_cores(),
        )
        return shapes.batch(batch).prefetch(2 * usable_cores()).with_options(pipeline.FIXED)

    return {
        "runner": runner,
        "ids": ids,
        "manual": manual,
        "idg": idg,
        "decode": decode,
        # Not in the default list: the runner decoding every epoch (data.cache=none).
        "runner_nocache": lambda: runner(Cache.none),
    }


class Epochs:
    """The runner's training dataset (all the run's epochs) read one epoch, ``steps`` batches, per
    ``iter()``, all from one iterator: as ``fit`` reads it with ``steps_per_epoch``. (``fit`` opens
    an iterator per epoch only for a dataset that ends with the epoch, as Keras's loaders' do.)"""

    def __init__(self, dataset, steps: int) -> None:
        self.dataset, self.steps = dataset, steps
        self.iterator: Iterator | None = None

    def __iter__(self) -> Iterator:
        if self.iterator is None:
            self.iterator = iter(self.dataset)
        return itertools.islice(self.iterator, self.steps)


class EpochsOf:
    """A Keras ``Sequence`` read one epoch per ``iter()``, like ``fit`` reads it."""

    def __init__(self, sequence) -> None:
        self.sequence = sequence

    def __iter__(self):
        return (self.sequence[i] for i in range(len(self.sequence)))


def cache_sizes(root: Path, size: int, batch: int) -> dict:
    """MB held by the runner's uint8 cache vs by ``image_dataset_from_directory(...).cache()``."""
    import keras

    from runner import cache
    from runner.decode import Decoder
    from runner.schemas.data import Cache, ColorMode, Interpolation
    from runner.sources import DirSource

    index = DirSource(path=str(root)).index()
    decoder = Decoder(size, size, ColorMode.rgb, Interpolation.bilinear)
    images, _ = cache.load(index.paths, decoder, Cache.memory, "")
    runner_mb = images.shape.num_elements() / 2**20
    del images
    # ``.cache()`` keeps exactly the elements it yields: count their bytes.
    ds = keras.utils.image_dataset_from_directory(
        root, image_size=(size, size), batch_size=batch, verbose=False
    )
    ids_mb = sum(images.numpy().nbytes + labels.numpy().nbytes for images, labels in ds) / 2**20
    return {
        "runner_mb": round(runner_mb, 1),
        "ids_cache_mb": round(ids_mb, 1),
        "ratio": round(runner_mb / ids_mb, 3),
    }


def fit_epochs(root: Path, size: int, batch: int, epochs: int = 3) -> dict:
    """Seconds per ``model.fit`` epoch, same small model: the runner's pipeline, image_dataset_from_
    directory, and ``compute``: one batch repeated from memory, as many steps, so no input cost at
    all. The runner's epoch against ``compute`` is what fit waited on input. Their epochs take
    turns (runner, ids, compute, runner, ...), so that a slow minute of a shared host lands on
    each of them alike rather than on one; ``started_s`` says when each began."""
    import keras
    import tensorflow as tf

    from runner.models import small_cnn
    from runner.pipeline import FIXED

    begun = time.perf_counter()

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self, figures: dict) -> None:
            super().__init__()
            self.figures = figures

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()
            self.figures["started_s"].append(round(self.start - begun, 2))

        def on_epoch_end(self, epoch, logs=None):
            self.figures["epoch_s"].append(round(time.perf_counter() - self.start, 2))

    made = loaders(root, size, batch, epochs)
    ids = made["ids"]()
    images, labels = next(iter(ids))
    sample = (tf.cast(images, tf.uint8), labels)  # the runner's models take uint8
    steps = int(ids.cardinality())
    made["compute"] = lambda: tf.data.Dataset.from_tensors(sample).repeat(steps).with_options(FIXED)
    classes = len([p for p in root.iterdir() if p.is_dir()])
    fits, found = {}, {}
    for name in ("runner", "ids", "compute"):
        keras.utils.set_random_seed(0)
        model = small_cnn((size, size, 3), classes, filters=(8, 16), dense=32)
        model.compile("adam", "sparse_categorical_crossentropy")
        start = time.perf_counter()
        data = made[name]()
        found[name] = {"build_s": round(time.perf_counter() - start, 2), "epoch_s": [], "started_s": []}
        # shuffle=False: each dataset is in its own order (with True, Keras warns that it ignores it).
        settings = {"shuffle": False, "callbacks": [EpochTimer(found[name])], "verbose": 0}
        if isinstance(data, Epochs):  # every epoch in one dataset: fit reads an epoch's steps of it
            fits[name] = partial(model.fit, data.dataset, steps_per_epoch=data.steps, **settings)
        else:
            fits[name] = partial(model.fit, data, **settings)
    for epoch in range(epochs):
        for fit in fits.values():
            fit(initial_epoch=epoch, epochs=epoch + 1)
    for figures in found.values():
        figures["median_epoch_s"] = statistics.median(figures["epoch_s"])
    return found
