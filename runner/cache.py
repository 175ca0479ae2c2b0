"""Decode every image once, at the target size, into one uint8 array: in memory or a disk memmap.

Two ways in, one resize:
- Fast path: TensorFlow's decoders (``decode_image``: JPEG with its fast DCT, PNG incl. 16-bit and
  palette, GIF, BMP, WebP, CMYK JPEG) in a parallel tf.data map, C++ threads, no GIL.
- Pillow path: files whose EXIF orientation must be applied (TF ignores it), arrays from a
  generator, and every file TF fails on, in threads; a file Pillow cannot decode either is left
  out with Pillow's reason instead of killing an epoch.
Both end in ``keras.ops.image.resize``, the op ``image_dataset_from_directory`` uses, so sizes,
interpolation, crop and pad match it exactly.

uint8 at the target size is 4x smaller than the float32 tensors ``image_dataset_from_directory
(...).cache()`` holds, and every later epoch is a memory gather instead of a decode.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import psutil
import tensorflow as tf
from PIL import Image, ImageOps
from tqdm import tqdm

from runner.config import Cache, ColorMode, DataConfig, Interpolation

log = logging.getLogger(__name__)

PIL_MODE = {ColorMode.grayscale: "L", ColorMode.rgb: "RGB", ColorMode.rgba: "RGBA"}
# A memory cache may take at most this share of the memory available when the run starts.
MEMORY_SHARE = 0.4
PROGRESS_FROM = 5000


@dataclass(frozen=True)
class Decoder:
    """File or array -> uint8 ``shape``; its fields are the preprocessing that keys a disk cache."""

    height: int
    width: int
    color_mode: ColorMode
    interpolation: Interpolation
    crop_to_aspect_ratio: bool = False
    pad_to_aspect_ratio: bool = False

    @classmethod
    def of(cls, data: DataConfig) -> Decoder:
        """The decoder a ``data`` config asks for."""
        return cls(
            *data.image_size,
            data.color_mode,
            data.interpolation,
            data.crop_to_aspect_ratio,
            data.pad_to_aspect_ratio,
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.color_mode.value)

    def resize(self, image: tf.Tensor) -> tf.Tensor:
        resized = keras.ops.image.resize(
            tf.cast(image, tf.float32),
            (self.height, self.width),
            interpolation=self.interpolation.value,
            crop_to_aspect_ratio=self.crop_to_aspect_ratio,
            pad_to_aspect_ratio=self.pad_to_aspect_ratio,
        )
        return tf.saturate_cast(tf.round(resized), tf.uint8)

    def decode_file(self, path: tf.Tensor) -> tf.Tensor:
        """The fast path, as graph ops for a tf.data map.

        A JPEG at least twice the target in both sides is decoded at 1/2, 1/4 or 1/8 scale in the
        DCT domain (``decode_jpeg(ratio=...)``): fewer pixels to decode and to resize."""
        channels = self.color_mode.value
        contents = tf.io.read_file(path)

        def jpeg() -> tf.Tensor:
            height, width = tf.unstack(tf.image.extract_jpeg_shape(contents)[:2])
            times = tf.minimum(height // self.height, width // self.width)
            branch = tf.reduce_sum(tf.cast(times >= tf.constant([2, 4, 8]), tf.int32))
            return tf.switch_case(
                branch,
                [
                    lambda ratio=ratio: tf.io.decode_jpeg(contents, channels=channels, ratio=ratio)
                    for ratio in (1, 2, 4, 8)
                ],
            )

        def other() -> tf.Tensor:
            return tf.io.decode_image(contents, channels=channels, expand_animations=False)

        image = tf.cond(tf.io.is_jpeg(contents), jpeg, other)
        image.set_shape((None, None, channels))
        return self.resize(image)

    def decode_pillow(self, item: str | np.ndarray) -> np.ndarray:
        """The exact path: EXIF orientation, any mode, or an already-decoded array."""
        if isinstance(item, np.ndarray):
            image = Image.fromarray(item[..., 0] if item.shape[-1] == 1 else item)
        else:
            with Image.open(item) as opened:
                image = ImageOps.exif_transpose(opened)
        pixels = np.asarray(to_mode(image, PIL_MODE[self.color_mode]), dtype=np.uint8)
        return self.resize(pixels.reshape(*pixels.shape[:2], -1)).numpy()


def to_mode(image: Image.Image, mode: str) -> Image.Image:
    """Convert to L/RGB/RGBA, keeping 16-bit images' brightness and palette transparency."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L"):
        image = Image.fromarray((np.asarray(image, dtype=np.uint32) >> 8).astype(np.uint8))
    elif image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image if image.mode == mode else image.convert(mode)


def decode_fast(
    items: list, positions: list[int], decoder: Decoder
) -> Iterator[tuple[np.ndarray, tf.Tensor]]:
    """(positions, uint8 images) batches of ``items[positions]`` decoded by TensorFlow, in order;
    files TensorFlow cannot decode are simply absent."""
    if not positions:
        return
    auto = tf.data.AUTOTUNE
    ds = tf.data.Dataset.from_tensor_slices((np.asarray(positions, np.int64), [items[i] for i in positions]))
    ds = ds.map(lambda i, path: (i, decoder.decode_file(path)), num_parallel_calls=auto)
    ds = ds.ignore_errors().batch(64).prefetch(auto)
    with tqdm(
        total=len(positions), desc="decoding", file=sys.stderr, disable=len(positions) < PROGRESS_FROM
    ) as bar:
        for batch_positions, images in ds:
            bar.update(int(images.shape[0]))
            yield batch_positions.numpy(), images


def decode_rest(items: list, done: set[int], decoder: Decoder, out: np.ndarray) -> dict[int, str]:
    """The Pillow path for every position not in ``done``; position -> reason for those that fail."""

    def work(i: int) -> str | None:
        try:
            out[i] = decoder.decode_pillow(items[i])
        except Exception as err:  # noqa: BLE001 - each decoder raises its own types
            return f"cannot decode: {type(err).__name__}: {err}"
        return None

    rest = [i for i in range(len(items)) if i not in done]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return {i: reason for i, reason in zip(rest, pool.map(work, rest), strict=True) if reason}


def decode_into(out: np.ndarray, items: list, decoder: Decoder, batches: Iterable) -> dict:
    """Fill ``out`` from the fast path's ``batches``, then the Pillow path; position -> reason."""
    done: set[int] = set()
    for rows, images in batches:
        out[rows] = images.numpy()
        done.update(rows.tolist())
    return decode_rest(items, done, decoder, out)


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


def aligned_empty(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised uint8 array on a 64-byte boundary, as TensorFlow needs to share it."""
    size = int(np.prod(shape))
    raw = np.empty(size + 64, dtype=np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start : start + size].reshape(shape)


def choose(cache: Cache, nbytes: int) -> Cache:
    if cache != Cache.auto:
        return cache
    fits = nbytes <= MEMORY_SHARE * psutil.virtual_memory().available
    return Cache.memory if fits else Cache.disk


def load(
    items: list, decoder: Decoder, cache: Cache, cache_dir: str, pillow: frozenset[str] = frozenset()
) -> tuple[tf.Variable | np.ndarray, dict]:
    """The decoded images of ``items`` and the position -> reason of failures.

    A memory cache is a tf.Variable (batches are one ``tf.gather``); a disk cache is a read-only
    ``np.memmap`` reused while ``digest`` is unchanged."""
    shape = (len(items), *decoder.shape)
    # Files go to TensorFlow unless EXIF-rotated; arrays (generator source) go to Pillow.
    fast = [i for i, item in enumerate(items) if isinstance(item, str) and item not in pillow]
    if choose(cache, int(np.prod(shape))) == Cache.memory:
        images = aligned_empty(shape)
        bad = decode_into(images, items, decoder, decode_fast(items, fast, decoder))
        # Zero-copy into TensorFlow; a variable, because tf.data copies a captured tensor.
        return tf.Variable(tf.experimental.dlpack.from_dlpack(images.__dlpack__()), trainable=False), bad

    folder = Path(cache_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    key = digest(items, decoder)
    data, failures = folder / f"{key}.npy", folder / f"{key}.failed.json"
    if data.exists() and failures.exists():
        log.info("reusing disk cache %s", data)
        bad = {int(i): reason for i, reason in json.loads(failures.read_text()).items()}
        return np.load(data, mmap_mode="r"), bad
    partial = folder / f"{key}.partial.npy"
    images = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=shape)
    bad = decode_into(images, items, decoder, decode_fast(items, fast, decoder))
    images.flush()
    del images
    partial.rename(data)
    failures.write_text(json.dumps(bad))
    log.info("wrote disk cache %s (%.1f MB)", data, data.stat().st_size / 1e6)
    return np.load(data, mmap_mode="r"), bad
