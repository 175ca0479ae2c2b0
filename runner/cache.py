"""Decode every image once, at the target size, into one uint8 array: in memory or a disk memmap.

Threads decode straight into the array's rows (``fill``), so a cold pass is one decode, one
resize and one write per image; a file that no decoder can read is left out with the reason.

uint8 at the target size is 4x smaller than the float32 tensors ``image_dataset_from_directory
(...).cache()`` holds, and every later epoch is a memory gather instead of a decode.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import psutil

from runner import liveness
from runner.caches import images_of, mark_used, record_source
from runner.decode import Decoder
from runner.errors import RunnerError
from runner.fill import decode_into
from runner.schemas.data import Cache, DataConfig
from runner.sources.index import FileIndex

if TYPE_CHECKING:  # imported where a memory cache is made: ``train`` checks room before TensorFlow
    import tensorflow as tf

log = logging.getLogger(__name__)

# A memory cache may take at most this share of the memory available when the run starts.
MEMORY_SHARE = 0.4
T = TypeVar("T")
Loaded = tuple["tf.Variable | np.ndarray", dict[int, str]]

# A sweep's jobs on the same files and preprocessing read the memory cache its process decoded for
# an earlier job, as a Keras Tuner search reuses its one ``.cache()``d dataset: the last one made is
# kept here by ``digest``. ``keep_between_jobs`` turns this on for a sweep's jobs only (a single
# run would hold the memory for nothing); one at most, dropped before a different one is made.
KEPT: dict[str, Loaded] = {}
KEEPING = False


def digest(items: list, decoder: Decoder) -> str:
    """Changes when a file is added, removed or rewritten, or a preprocessing parameter changes."""
    h = hashlib.sha256(json.dumps(asdict(decoder), default=str, sort_keys=True).encode())
    for item in items:
        if isinstance(item, np.ndarray):
            h.update(item.tobytes())
        else:
            stat = os.stat(item)
            h.update(f"{item}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def memory_cache(shape: tuple[int, ...], fill: Callable[[np.ndarray], T]) -> tuple[tf.Variable, T]:
    """A uint8 variable of ``shape`` that ``fill`` writes through a NumPy view, and what it returned.

    TensorFlow owns the memory, so nothing ever copies it: a variable made from a NumPy buffer
    (DLPack) is copied whole by its first ``tf.gather``, 2x the cache at the peak, and a tensor
    captured by tf.data is copied whole by each graph rewrite (always, with op determinism on)."""
    import tensorflow as tf

    variable = tf.Variable(tf.raw_ops.Empty(shape=shape, dtype=tf.uint8, init=False), trainable=False)
    return variable, fill(numpy_view(variable, writable=True))


def numpy_view(variable: tf.Variable, writable: bool = False) -> np.ndarray:
    """NumPy's view of a memory cache's rows. It keeps the variable alive but holds no reference to
    TensorFlow's buffer itself: one would make the variable's next ``tf.gather`` copy it whole.
    (NumPy's view of a TF tensor is read-only; the writable one is for ``memory_cache`` to fill.)"""
    shape = tuple(variable.shape)
    address = np.from_dlpack(variable.value()).__array_interface__["data"][0]
    memory = (ctypes.c_uint8 * int(np.prod(shape))).from_address(address)
    memory.owner = variable  # the view's base: the memory is not freed while a view lives
    view = np.frombuffer(memory, np.uint8)
    view.flags.writeable = writable
    return view.reshape(shape)


def keep_between_jobs() -> None:
    global KEEPING
    KEEPING = True


def kept(items: list, decoder: Decoder, shape: tuple[int, ...]) -> Loaded:
    """The memory cache of ``items``: in a sweep's job, the one kept from an earlier job of this
    process if their files and preprocessing are the same; else decoded now."""

    def fill(rows: np.ndarray) -> dict[int, str]:
        return decode_into(rows, items, decoder)

    if not KEEPING:
        return memory_cache(shape, fill)
    key = digest(items, decoder)
    if key in KEPT:
        log.info("reusing the %d images this process decoded for an earlier job of the sweep", shape[0])
        return KEPT[key]
    forget()  # another job's: freed before this one is made, never two at once
    KEPT[key] = memory_cache(shape, fill)
    return KEPT[key]


def forget() -> None:
    """Let the kept memory cache go (freed unless a live dataset still reads it)."""
    if KEPT:
        KEPT.clear()
        gc.collect()


def choose(cache: Cache, shape: tuple[int, ...]) -> Cache:
    """``auto``: memory if the cache fits in MEMORY_SHARE of the memory available, else disk. A
    memory cache larger than all of it is refused here, not by the kernel's OOM killer mid-fill.
    A memory cache kept from an earlier job counts as available: it goes before another is made."""
    held = sum(int(np.prod(images.shape)) for images, _ in KEPT.values())
    nbytes, available = int(np.prod(shape)), psutil.virtual_memory().available + held
    if cache == Cache.auto:
        return Cache.memory if nbytes <= MEMORY_SHARE * available else Cache.disk
    if cache == Cache.memory and nbytes > available:
        raise RunnerError(
            f"data.cache=memory: the cache needs {size_of(shape)}, and {available / 1e9:.1f} GB of memory "
            f"is available. Use data.cache=disk (or auto), or a smaller data.image_size."
        )
    return cache


def size_of(shape: tuple[int, ...]) -> str:
    """'5.4 GB (1,797 images of 224×224×3 bytes)'."""
    return f"{np.prod(shape) / 1e9:.1f} GB ({images_of(shape)} bytes)"


def check_room(folder: Path, shape: tuple[int, ...], cache_dir: str) -> None:
    """A disk cache larger than the free space would fail mid-fill (a memmap cannot even be
    made past the file system's largest file): refused before any file is decoded."""
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    disk = shutil.disk_usage(existing)
    # A pseudo file system (/proc, /sys) has no size: writing there fails, and says so, below.
    if disk.total and np.prod(shape) > disk.free:
        raise RunnerError(
            f"data.cache_dir={cache_dir}: the disk cache needs {size_of(shape)}, and "
            f"{disk.free / 1e9:.1f} GB is free there. Point data.cache_dir at a larger disk, use a "
            f"smaller data.image_size, or data.cache=none (decode every epoch)."
        )


def check_room_for(cfg: DataConfig, index: FileIndex) -> None:
    """Refuse now what ``load`` would refuse before decoding: a cache too big for the memory or the
    disk, a ``data.cache_dir`` that cannot be written. ``train`` asks before TensorFlow starts, so
    that is one line within seconds; ``load`` checks again, as things may change in between."""
    decoder, items = Decoder.of(cfg), index.arrays or index.paths
    shape = (len(items), *decoder.shape)
    folder = Path(cfg.cache_dir).expanduser()
    if choose(cfg.cache, shape) != Cache.disk or reusable(folder, digest(items, decoder)):
        return
    check_room(folder, shape, cfg.cache_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        raise unwritable(cfg.cache_dir, err) from err


def reusable(folder: Path, key: str) -> bool:
    """A disk cache of this key was written whole (its failures are renamed into place first)."""
    return (folder / f"{key}.npy").exists() and (folder / f"{key}.failed.json").exists()


def unwritable(cache_dir: str, err: OSError) -> RunnerError:
    return RunnerError(
        f"data.cache_dir={cache_dir}: cannot write the disk cache there ({err.strerror}: "
        f"{err.filename}). Point data.cache_dir at a writable folder, or use data.cache=memory."
    )


def load(items: list, decoder: Decoder, cache: Cache, cache_dir: str, tensorflow: bool = True) -> Loaded:
    """The decoded images of ``items`` and the position -> reason of failures.

    A memory cache is a tf.Variable (batches are one ``tf.gather``), or without ``tensorflow`` (a
    data check, which trains nothing) a NumPy array; a disk cache is a read-only ``np.memmap``
    reused while ``digest`` is unchanged. ``none`` comes here only for a generator's arrays, which
    are in memory already: resized into a memory cache, never written to disk."""
    shape = (len(items), *decoder.shape)
    chosen = Cache.memory if cache == Cache.none else choose(cache, shape)
    log.info("data.cache=%s: %s, %.1f MB", cache.value, chosen.value, np.prod(shape) / 1e6)
    if chosen == Cache.memory and not tensorflow:
        images = np.empty(shape, np.uint8)
        return images, decode_into(images, items, decoder)
    if chosen == Cache.memory:
        # A variable, because tf.data copies a captured tensor; batches are one tf.gather each.
        return kept(items, decoder, shape)
    forget()
    return disk_cache(items, decoder, shape, cache_dir)


def disk_cache(
    items: list, decoder: Decoder, shape: tuple[int, ...], cache_dir: str
) -> tuple[np.ndarray, dict]:
    """A read-only memmap of ``<digest>.npy`` in ``cache_dir``, decoded first unless a whole one exists.

    Each writer fills a partial file of its own and renames it into place (the failures first),
    so runs that build the same cache at once (a parallel sweep) neither clash nor read half a file."""
    folder = Path(cache_dir).expanduser()
    key = digest(items, decoder)
    data, failures = folder / f"{key}.npy", folder / f"{key}.failed.json"
    if reusable(folder, key) and (whole := read_whole(data, failures, shape)) is not None:
        log.info("reusing disk cache %s", data)
        mark_used(data)
        return whole
    for stale in liveness.dead_partials(folder, suffix=".npy"):  # each as big as its cache
        log.info("removing %s, left by a run that died writing it", stale)
        stale.unlink(missing_ok=True)
        stale.with_suffix(".json").unlink(missing_ok=True)
    partial = liveness.partial(folder, key, ".npy")
    partial_failures = partial.with_suffix(".json")
    check_room(folder, shape, cache_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        images = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=shape)
    except OSError as err:
        raise unwritable(cache_dir, err) from err
    try:
        bad = decode_into(images, items, decoder)
        images.flush()
        del images
        partial_failures.write_text(json.dumps(bad))
        partial_failures.replace(failures)
        partial.replace(data)
        record_source(folder, key, items, decoder)
    finally:
        partial.unlink(missing_ok=True)
        partial_failures.unlink(missing_ok=True)
    log.info("wrote disk cache %s (%.1f MB)", data, data.stat().st_size / 1e6)
    return np.load(data, mmap_mode="r"), bad


def read_whole(data: Path, failures: Path, shape: tuple[int, ...]) -> tuple[np.ndarray, dict] | None:
    """A disk cache's images and failures; None, said, if its files are damaged (cut short by a
    disk error, or by a copy of the cache folder that stopped): the caller decodes them again."""
    try:
        images = np.load(data, mmap_mode="r")
    except (OSError, ValueError) as err:  # numpy: "mmap length is greater than file size"
        size = data.stat().st_size if data.exists() else 0  # removed meanwhile (runner.caches --delete)
        short = f"{size:,} bytes, too few for {images_of(shape)} bytes"
        return damaged(data, short if size < np.prod(shape) else err)
    if images.shape != shape or images.dtype != np.uint8:
        return damaged(data, f"it holds {images.dtype} {images.shape}, not uint8 {shape}")
    try:
        return images, {int(i): reason for i, reason in json.loads(failures.read_text()).items()}
    except (OSError, ValueError) as err:
        return damaged(failures, err)


def damaged(path: Path, problem: object) -> None:
    log.warning("disk cache file %s is damaged (%s): decoding the images again", path, problem)
