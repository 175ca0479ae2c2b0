"""How a loader is timed: images/sec of its first, cold and warm passes, and the process's peak
memory meanwhile; a loader that fails on the files is reported, not raised."""

from __future__ import annotations

import contextlib
import gc
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
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
        lines = [line for line in str(err).splitlines() if line.strip()] or [""]
        # TensorFlow prefixes its message with "{{function_node ...}} ": keep what follows.
        return {"error": f"{type(err).__name__}: {lines[0].split('}} ')[-1][:300]}"}
