"""Decode every image once, at the target size, into one uint8 array: in memory or a disk memmap.

Why Pillow and not ``tf.io.decode_image``: one decoder handles every format we accept with EXIF
orientation, palette/16-bit/CMYK conversion and JPEG DCT-domain downscaling (``draft``), and a file
that fails to decode raises *here*, once, with a reason, instead of killing an epoch. Pillow
releases the GIL while decoding and resizing, so a thread pool uses every core.

Why uint8 at the target size: it is 4x smaller than the float32 tensors ``image_dataset_from_
directory(...).cache()`` holds, and every later epoch is a memory gather instead of a decode.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import psutil
from PIL import Image, ImageOps

from runner.config import Cache, ColorMode, Interpolation

log = logging.getLogger(__name__)

RESAMPLE = {
    Interpolation.nearest: Image.Resampling.NEAREST,
    Interpolation.bilinear: Image.Resampling.BILINEAR,
    Interpolation.bicubic: Image.Resampling.BICUBIC,
    Interpolation.lanczos: Image.Resampling.LANCZOS,
    Interpolation.area: Image.Resampling.BOX,
}
PIL_MODE = {ColorMode.grayscale: "L", ColorMode.rgb: "RGB", ColorMode.rgba: "RGBA"}
# A memory cache may take at most this share of the memory available when the run starts.
MEMORY_SHARE = 0.5


@dataclass(frozen=True)
class Decoder:
    """File -> uint8 array of ``shape``; its fields are the preprocessing that keys a disk cache."""

    height: int
    width: int
    color_mode: ColorMode
    interpolation: Interpolation
    crop_to_aspect_ratio: bool = False
    pad_to_aspect_ratio: bool = False

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.color_mode.value)

    def __call__(self, item: str | np.ndarray) -> np.ndarray:
        """A file path, or an already-decoded HxWxC array (the generator source)."""
        if isinstance(item, np.ndarray):
            return self.fit(Image.fromarray(item[..., 0] if item.shape[-1] == 1 else item))
        with Image.open(item) as image:
            # JPEG only: decode at 1/2, 1/4 or 1/8 scale when that still covers the target.
            side = max(self.height, self.width)
            image.draft(PIL_MODE[self.color_mode], (side, side))
            return self.fit(ImageOps.exif_transpose(image))

    def fit(self, image: Image.Image) -> np.ndarray:
        """Colour mode, then size: resized, or cropped / padded to the target's aspect ratio."""
        size, method = (self.width, self.height), RESAMPLE[self.interpolation]
        image = to_mode(image, PIL_MODE[self.color_mode])
        if self.crop_to_aspect_ratio:
            image = ImageOps.fit(image, size, method)
        elif self.pad_to_aspect_ratio:
            image = ImageOps.pad(image, size, method)
        elif image.size != size:
            image = image.resize(size, method)
        return np.asarray(image, dtype=np.uint8).reshape(self.shape)


def to_mode(image: Image.Image, mode: str) -> Image.Image:
    """Convert to L/RGB/RGBA, keeping 16-bit images' brightness and palette transparency."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L"):
        image = Image.fromarray((np.asarray(image, dtype=np.uint32) >> 8).astype(np.uint8))
    elif image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image if image.mode == mode else image.convert(mode)


def decode_all(items: list, decoder: Decoder, out: np.ndarray) -> dict[int, str]:
    """Fill ``out[i]`` with ``decoder(items[i])``; return position -> reason for items that fail."""

    def work(i: int) -> str | None:
        try:
            out[i] = decoder(items[i])
        except Exception as err:  # noqa: BLE001 - each decoder raises its own types
            return f"cannot decode: {type(err).__name__}: {err}"
        return None

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return {i: reason for i, reason in enumerate(pool.map(work, range(len(items)))) if reason}


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


def choose(cache: Cache, nbytes: int) -> Cache:
    if cache != Cache.auto:
        return cache
    fits = nbytes <= MEMORY_SHARE * psutil.virtual_memory().available
    return Cache.memory if fits else Cache.disk


def load(items: list, decoder: Decoder, cache: Cache, cache_dir: str) -> tuple[np.ndarray, dict]:
    """The decoded images of ``items`` (paths or arrays) and the position -> reason of failures."""
    shape = (len(items), *decoder.shape)
    where = choose(cache, int(np.prod(shape)))
    if where == Cache.memory:
        images = np.empty(shape, dtype=np.uint8)
        return images, decode_all(items, decoder, images)

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
    bad = decode_all(items, decoder, images)
    images.flush()
    del images
    partial.rename(data)
    failures.write_text(json.dumps(bad))
    log.info("wrote disk cache %s (%.1f MB)", data, data.stat().st_size / 1e6)
    return np.load(data, mmap_mode="r"), bad
