"""``python -m runner.bench DIR``: images/sec and peak memory of the runner's input pipeline against
Keras's own loaders, in one process, on the same files.

Loaders, in this fixed order: ``runner`` (the pipeline as ``data=dir`` builds it), ``ids``
(``keras.utils.image_dataset_from_directory`` + prefetch), ``manual`` (``Dataset.list_files`` +
parallel ``map(read, decode, resize)`` + batch + prefetch), ``idg`` (the legacy
``ImageDataGenerator.flow_from_directory``) and ``decode`` (parallel read + ``decode_jpeg``, no
resize: the ceiling). Once, before any loader: the files are read into the page cache and
TensorFlow is started. Each loader's first pass in the process is timed on its own
(``first_img_s``: it also pays the loader's one-time costs, as a training run's first epoch
does), then ``--passes`` rounds of: build it fresh and read one epoch (cold), read a second epoch
from the same object (warm). Figures are medians;
every pass is kept in the JSON so that noise shows. ``peak_rss_mb`` is the process's peak
resident memory while that loader ran and ``added_rss_mb`` what it added to the memory in use
when it started (earlier loaders' memory is not always given back to the OS). A loader that
fails on the files (Keras's loaders stop at the first corrupt one) gets ``{"error": ...}``.

Also: ``--fit`` times ``model.fit`` epochs on the same small model with the runner's pipeline and
with ``image_dataset_from_directory``; ``--make N`` first writes N synthetic JPEG photos into DIR;
``--index-files N`` times indexing N (empty) files with header checks off.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

from runner.errors import positive_int

Loader = Callable[[], Iterable]


class PeakRSS:
    """Samples this process's resident memory every few milliseconds while in a ``with`` block."""

    def __init__(self, every: float = 0.01) -> None:
        self.every, self._stop = every, threading.Event()
        self.start = self.peak = psutil.Process().memory_info().rss

    @property
    def added_mb(self) -> float:
        """Peak above the memory in use when the block began: what this loader added."""
        return round((self.peak - self.start) / 2**20, 1)

    def _sample(self) -> None:
        process = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, process.memory_info().rss)
            self._stop.wait(self.every)

    def __enter__(self) -> PeakRSS:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def count_images(batches: Iterable) -> int:
    """Read every batch (as a training loop would) and count the images in them."""
    n = 0
    for batch in batches:
        images = batch[0] if isinstance(batch, tuple) else batch
        n += int(images.shape[0])
    return n


def measure(make: Loader, passes: int) -> dict:
    cold, warm = [], []
    with PeakRSS() as memory:
        # The warm-up, timed: this loader's first pass in the process also pays its one-time
        # costs (tracing its functions; for the runner, mapping the cache's fresh memory, which
        # TensorFlow's allocator then keeps for later passes), as a training run's first epoch does.
        start = time.perf_counter()
        initial = count_images(make())
        initial_rate = initial / (time.perf_counter() - start)
        gc.collect()
        counts = {initial}
        for _ in range(passes):
            start = time.perf_counter()
            loader = make()
            first = count_images(loader)
            cold.append(first / (time.perf_counter() - start))
            start = time.perf_counter()
            second = count_images(loader)
            warm.append(second / (time.perf_counter() - start))
            del loader  # so that two loaders' caches are never held at once, and freed untimed
            gc.collect()
            counts |= {first, second}
    return {
        "images": counts.pop() if len(counts) == 1 else sorted(counts),
        "first_img_s": round(initial_rate, 1),
        "cold_img_s": round(statistics.median(cold), 1),
        "warm_img_s": round(statistics.median(warm), 1),
        "peak_rss_mb": round(memory.peak / 2**20, 1),
        "added_rss_mb": memory.added_mb,
        "cold_passes": [round(x, 1) for x in cold],
        "warm_passes": [round(x, 1) for x in warm],
    }


def cache_sizes(root: Path, size: int, batch: int) -> dict:
    """MB held by the runner's uint8 cache vs by ``image_dataset_from_directory(...).cache()``."""
    import keras

    from runner import cache
    from runner.config import Cache, ColorMode, Interpolation
    from runner.decode import Decoder
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


def warm_up(root: Path, decode: Loader) -> None:
    """What no loader should pay for first: the files into the page cache, TensorFlow's own
    start-up (thread pools, first kernels). Errors are left to the loaders to report."""
    for path in root.rglob("*"):
        if path.is_file():
            path.read_bytes()
    with contextlib.suppress(Exception):
        count_images(iter_first(decode(), 3))


def iter_first(batches: Iterable, n: int) -> Iterable:
    for i, batch in enumerate(batches):
        if i >= n:
            return
        yield batch


def loaders(root: Path, size: int, batch: int) -> dict[str, Loader]:
    import keras
    import tensorflow as tf

    from runner import pipeline
    from runner.config import Cache
    from runner.cpus import usable_cores
    from runner.sources import DirSource

    auto = tf.data.AUTOTUNE

    def runner(cache: Cache = Cache.memory) -> Iterable:
        source = DirSource(
            path=str(root), image_size=[size, size], batch_size=batch, validation_split=0.0, cache=cache
        )
        return pipeline.build(source, source.index(), seed=0).train

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


class EpochsOf:
    """A Keras ``Sequence`` read one epoch per ``iter()``, like ``fit`` reads it."""

    def __init__(self, sequence) -> None:
        self.sequence = sequence

    def __iter__(self):
        return (self.sequence[i] for i in range(len(self.sequence)))


def fit_epochs(root: Path, size: int, batch: int, epochs: int = 3) -> dict:
    """Seconds per ``model.fit`` epoch, same small model: the runner's pipeline, image_dataset_from_
    directory, and ``compute``: one batch repeated from memory, as many steps, so no input cost at
    all. The runner's epoch against ``compute`` is what fit waited on input."""
    import keras
    import tensorflow as tf

    from runner.models import small_cnn
    from runner.pipeline import FIXED

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(round(time.perf_counter() - self.start, 2))

    made = loaders(root, size, batch)
    ids = made["ids"]()
    images, labels = next(iter(ids))
    sample = (tf.cast(images, tf.uint8), labels)  # the runner's models take uint8
    steps = int(ids.cardinality())
    made["compute"] = lambda: tf.data.Dataset.from_tensors(sample).repeat(steps).with_options(FIXED)
    found = {}
    for name in ("runner", "ids", "compute"):
        keras.utils.set_random_seed(0)
        model = small_cnn(
            (size, size, 3), len([p for p in root.iterdir() if p.is_dir()]), filters=(8, 16), dense=32
        )
        model.compile("adam", "sparse_categorical_crossentropy")
        timer = EpochTimer()
        timer.seconds = []
        start = time.perf_counter()
        model.fit(made[name](), epochs=epochs, callbacks=[timer], verbose=0)
        found[name] = {
            "median_epoch_s": statistics.median(timer.seconds),
            "epoch_s": timer.seconds,
            "total_s": round(time.perf_counter() - start, 2),  # the runner's includes building its cache
        }
    return found


def make_photos(root: Path, count: int, size: tuple[int, int], classes: int = 5) -> None:
    """JPEGs cut from the two real photographs scikit-learn ships (random crops, flips and
    exposure), so decoding costs what photos cost: noise-like pixels would make entropy decoding
    dominate and hide what DCT-domain downscaling saves."""
    from sklearn.datasets import load_sample_images

    photos = [Image.fromarray(image) for image in load_sample_images().images]
    rng = np.random.default_rng(0)
    for i in range(count):
        photo = photos[i % len(photos)]
        side = rng.uniform(0.5, 1.0)
        width, height = int(photo.width * side), int(photo.height * side)
        left, top = rng.integers(0, photo.width - width + 1), rng.integers(0, photo.height - height + 1)
        image = photo.crop((left, top, left + width, top + height)).resize(size, Image.Resampling.BILINEAR)
        if rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        exposure = np.clip(np.asarray(image, dtype=np.float32) * rng.uniform(0.8, 1.2), 0, 255)
        image = Image.fromarray(exposure.astype(np.uint8))
        folder = root / f"class{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"{i:06d}.jpg", quality=90)


def index_scale(n: int) -> dict:
    """Seconds and peak memory to index ``n`` files in class folders with header checks off."""
    from runner.config import Verify
    from runner.sources import DirSource

    with tempfile.TemporaryDirectory() as tmp:
        for c in range(10):
            folder = Path(tmp) / f"class{c}"
            folder.mkdir()
            for i in range(c, n, 10):
                (folder / f"{i:07d}.jpg").touch()
        with PeakRSS() as memory:
            start = time.perf_counter()
            index = DirSource(path=tmp, verify=Verify.none).index()
            seconds = time.perf_counter() - start
    return {"files": len(index), "seconds": round(seconds, 4), "peak_rss_mb": round(memory.peak / 2**20, 1)}


def figures_or_error(fn: Callable[..., dict], *args: object) -> dict:
    """``fn``'s figures, or its error: a corrupt JPEG stops Keras's loaders, and that is a result."""
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - whatever a loader raises is reported, not raised
        lines = [line for line in str(err).splitlines() if line.strip()] or [""]
        # TensorFlow prefixes its message with "{{function_node ...}} ": keep what follows.
        return {"error": f"{type(err).__name__}: {lines[0].split('}} ')[-1][:300]}"}


def main(argv: list[str] | None = None) -> None:
    summary = __doc__.split("\n\n")[0].replace("\n", " ")
    parser = argparse.ArgumentParser(prog="python -m runner.bench", description=summary)
    parser.add_argument("dir", nargs="?", type=Path, help="a folder of class subfolders of JPEGs")
    parser.add_argument("--size", type=positive_int, default=224, help="target side in pixels")
    parser.add_argument("--batch", type=positive_int, default=32)
    parser.add_argument("--passes", type=positive_int, default=3, help="cold/warm rounds per loader (median)")
    parser.add_argument(
        "--loaders",
        default="runner,ids,manual,idg,decode",
        help="comma-separated, in this order; also runner_nocache (data.cache=none)",
    )
    parser.add_argument("--cache", action="store_true", help="also compare cache memory with ids().cache()")
    parser.add_argument("--fit", action="store_true", help="also time model.fit epochs (runner vs ids)")
    parser.add_argument(
        "--make", type=positive_int, metavar="N", help="first write N synthetic JPEGs into DIR"
    )
    parser.add_argument("--make-size", type=positive_int, nargs=2, default=(256, 256), metavar=("W", "H"))
    parser.add_argument(
        "--index-files", type=positive_int, metavar="N", help="only time indexing N empty files"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.index_files:
        print(json.dumps(index_scale(args.index_files)))
        return
    if args.dir is None:
        parser.error("DIR is required (or --index-files N)")
    if args.make:
        make_photos(args.dir, args.make, tuple(args.make_size))
    if not args.dir.is_dir():
        parser.error(f"DIR: '{args.dir}' is not a folder; give one of class subfolders, or --make N")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    with contextlib.redirect_stdout(sys.stderr):  # ImageDataGenerator prints "Found N images"
        made = loaders(args.dir, args.size, args.batch)
        unknown = [name for name in args.loaders.split(",") if name not in made]
        if unknown:
            parser.error(f"--loaders: unknown {', '.join(unknown)}; choose from {', '.join(made)}")
        warm_up(args.dir, made["decode"])
        results = {
            name: figures_or_error(measure, made[name], args.passes) for name in args.loaders.split(",")
        }
        if args.cache:
            results["cache"] = figures_or_error(cache_sizes, args.dir, args.size, args.batch)
        if args.fit:
            results["fit"] = figures_or_error(fit_epochs, args.dir, args.size, args.batch)
    if args.json:
        print(json.dumps(results))
        return
    for name, figures in results.items():
        print(f"{name:8s} {json.dumps(figures)}", file=sys.stdout)


if __name__ == "__main__":
    main()
