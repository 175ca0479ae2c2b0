"""How a loader is timed: images/sec of its first, cold and warm passes, and the process's peak
memory meanwhile; a loader that fails on the files is reported, not raised."""

from __future__ import annotations

import contextlib
import gc
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import psutil

from runner.cpus import usable_cores
from runner.provenance import cpu, installed_versions

# The packages whose versions the figures depend on: the loaders' decoders and resizes, and NumPy.
DECODING = (
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "numpy",
    "simplejpeg",
    "opencv-python-headless",
    "pillow",
)
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


class Passes:
    """One loader's passes, taken in turns with the other loaders'; its figures, or the error that
    stopped it (a corrupt JPEG stops Keras's loaders, and that is a result)."""

    def __init__(self, make: Loader) -> None:
        self.make = make
        self.cold: list[float] = []
        self.warm: list[float] = []
        self.counts: set[int] = set()
        self.first_rate = self.peak = self.added_mb = 0.0
        self.error: str | None = None

    def first(self) -> None:
        """The warm-up, timed: this loader's first pass in the process also pays its one-time
        costs (tracing its functions; for the runner, mapping the cache's fresh memory, which
        TensorFlow's allocator then keeps for later passes), as a training run's first epoch does."""
        with self.watched():
            start = time.perf_counter()
            n = count_images(self.make())
            self.first_rate = n / (time.perf_counter() - start)
            self.counts.add(n)

    def round(self) -> None:
        """Built fresh and read an epoch (cold), then the next epoch from the same object (warm)."""
        if self.error is not None:  # its passes ended at the error
            return
        with self.watched():
            start = time.perf_counter()
            loader = self.make()
            first = count_images(loader)
            self.cold.append(first / (time.perf_counter() - start))
            start = time.perf_counter()
            second = count_images(loader)
            self.warm.append(second / (time.perf_counter() - start))
            del loader  # so that two loaders' caches are never held at once, and freed untimed
            self.counts |= {first, second}

    @contextlib.contextmanager
    def watched(self) -> Iterator[None]:
        """Peak memory over the pass (and what it added to the memory in use as it began), and
        the error that ends this loader's passes."""
        try:
            with PeakRSS() as memory:
                yield
        except Exception as err:  # noqa: BLE001 - whatever a loader raises is reported, not raised
            self.error = error_of(err)
            return
        finally:
            gc.collect()
        self.peak = max(self.peak, memory.peak / 2**20)
        self.added_mb = max(self.added_mb, memory.added_mb)

    def figures(self) -> dict:
        if self.error is not None:
            return {"error": self.error}
        return {
            "images": next(iter(self.counts)) if len(self.counts) == 1 else sorted(self.counts),
            "first_img_s": round(self.first_rate, 1),
            "cold_img_s": round(statistics.median(self.cold), 1),
            "warm_img_s": round(statistics.median(self.warm), 1),
            "peak_rss_mb": round(self.peak, 1),
            "added_rss_mb": self.added_mb,
            "cold_passes": [round(x, 1) for x in self.cold],
            "warm_passes": [round(x, 1) for x in self.warm],
        }


def measure_in_turns(makers: dict[str, Loader], passes: int) -> dict[str, dict]:
    """Each loader's first pass, in order; then ``passes`` rounds in which each loader in turn is
    built fresh and read twice (cold, warm). So a slow minute of a shared host lands on every
    loader alike, not on one loader's passes."""
    loaders = {name: Passes(make) for name, make in makers.items()}
    for each in loaders.values():
        each.first()
    for _ in range(passes):
        for each in loaders.values():
            each.round()
    return {name: each.figures() for name, each in loaders.items()}


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


def index_scale(n: int) -> dict:
    """Seconds and peak memory to index ``n`` files in class folders with header checks off."""
    from runner.schemas.data import Verify
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


def machine() -> dict:
    """What the figures were measured on, since they mean little without it: the CPU as a run
    records it (its model and vector extensions), the cores this process may use, the memory,
    and the versions of what decodes and resizes."""
    return {
        "cpu": cpu(),
        "usable_cores": usable_cores(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "versions": installed_versions(DECODING),
    }


def figures_or_error(fn: Callable[..., dict], *args: object) -> dict:
    """``fn``'s figures, or its error: a corrupt JPEG stops Keras's loaders, and that is a result."""
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - whatever a loader raises is reported, not raised
        return {"error": error_of(err)}


def error_of(err: Exception) -> str:
    """The error in a line: its type and its message's first line."""
    lines = [line for line in str(err).splitlines() if line.strip()] or [""]
    # TensorFlow prefixes its message with "{{function_node ...}} ": keep what follows.
    return f"{type(err).__name__}: {lines[0].split('}} ')[-1][:300]}"
