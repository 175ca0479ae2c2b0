"""One image file (or array) -> uint8 at the target size: the work every cached image costs once.

Two ways in, one resize:
- JPEG (almost every photo): libjpeg-turbo through simplejpeg, straight from the file's bytes,
  with its fast DCT and upsampling; a JPEG at least twice the target in both sides is decoded at
  1/2, 1/4 or 1/8 scale in the DCT domain (fewer pixels to decode and to resize). The EXIF
  orientation is read from the bytes and applied as a NumPy flip/rotation.
- Anything else (PNG incl. 16-bit and palette, GIF, BMP, WebP, TIFF, CMYK JPEG, HEIC with
  pillow-heif, arrays from a generator, and every JPEG libjpeg-turbo rejects): Pillow, with
  ``ImageOps.exif_transpose``.
Both release the GIL while decoding, so threads decode in parallel. Crop/pad to the aspect ratio
are the box arithmetic of ``keras.ops.image.resize``; bilinear, nearest and area resize with
OpenCV (fixed-point SIMD, several times faster than TF's float resize), the other interpolations
with ``keras.ops.image.resize`` itself.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

import cv2
import numpy as np
import simplejpeg
from PIL import Image, ImageOps

from runner.schemas.data import ColorMode, DataConfig, Interpolation
from runner.sources.filetypes import open_heif

PIL_MODE = {ColorMode.grayscale: "L", ColorMode.rgb: "RGB", ColorMode.rgba: "RGBA"}
JPEG_START = b"\xff\xd8\xff"
JPEG_MODE = {ColorMode.grayscale: "GRAY", ColorMode.rgb: "RGB", ColorMode.rgba: "RGBA"}
# OpenCV's equivalents of keras.ops.image.resize methods (half-pixel centres, no antialias).
CV2_METHOD = {
    Interpolation.bilinear: cv2.INTER_LINEAR,
    Interpolation.nearest: cv2.INTER_NEAREST_EXACT,
    Interpolation.area: cv2.INTER_AREA,
}
# EXIF orientation -> the view that shows the image upright (as Pillow's exif_transpose).
UPRIGHT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a),
}
cv2.setNumThreads(1)  # the caller's threads are the parallelism; OpenCV's own pool would oversubscribe
open_heif()  # an iPhone's photos (.heic), where pillow-heif is installed
_scratch = threading.local()


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

    def __call__(self, item: str | np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The image at the target size, written into ``out`` when given (a cache row)."""
        pixels = self.pixels(item)
        return self.resize(pixels, np.empty(self.shape, np.uint8) if out is None else out)

    def pixels(self, item: str | np.ndarray) -> np.ndarray:
        """Upright (H, W, C) uint8 pixels in ``color_mode``; a JPEG maybe DCT-downscaled, and a view
        of this thread's scratch buffer: valid until the thread's next decode."""
        if isinstance(item, np.ndarray):
            return self.to_array(Image.fromarray(item[..., 0] if item.shape[-1] == 1 else item))
        with open(item, "rb") as file:
            data = file.read()
        refused = None
        if data[:3] == JPEG_START:
            try:
                return self.jpeg(data)
            except ValueError as err:
                refused = err  # CMYK, lossless, damaged...: Pillow decides, and says why if it cannot
        try:
            with Image.open(io.BytesIO(data)) as opened:
                return self.to_array(ImageOps.exif_transpose(opened))
        except Image.DecompressionBombError:
            if refused is None:
                raise
            raise refused from None  # a JPEG past Pillow's limit (verify.over_pillow_limit): its reason

    def jpeg(self, data: bytes) -> np.ndarray:
        height, width, _, _ = simplejpeg.decode_jpeg_header(data)
        times = min(height // self.height, width // self.width)
        ratio = next((r for r in (8, 4, 2) if times >= r), 1)
        # libjpeg-turbo's scaled size, rounded up: all the buffer it writes (a 24 MP photo at 1/8
        # needs 1.1 MB, not the 72 MB of its full size that each thread would then keep).
        scaled_height, scaled_width = -(-height // ratio), -(-width // ratio)
        decoded = simplejpeg.decode_jpeg(
            data,
            colorspace=JPEG_MODE[self.color_mode],
            fastdct=True,
            fastupsample=True,
            min_height=scaled_height,
            min_width=scaled_width,
            buffer=scratch(scaled_height * scaled_width * self.color_mode.value),
        )
        decoded = decoded.reshape(*decoded.shape[:2], -1)
        upright = UPRIGHT.get(jpeg_orientation(data))
        return decoded if upright is None else upright(decoded)

    def to_array(self, image: Image.Image) -> np.ndarray:
        pixels = np.asarray(to_mode(image, PIL_MODE[self.color_mode]), dtype=np.uint8)
        return pixels.reshape(*pixels.shape[:2], -1)

    def resize(self, pixels: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``keras.ops.image.resize``'s crop/pad box, then the resize, into ``out``."""
        height, width = pixels.shape[:2]
        if self.crop_to_aspect_ratio:
            crop_h = max(min(height, int(width * self.height / self.width)), 1)
            crop_w = max(min(width, int(height * self.width / self.height)), 1)
            top, left = (height - crop_h) // 2, (width - crop_w) // 2
            pixels = pixels[top : top + crop_h, left : left + crop_w]
        elif self.pad_to_aspect_ratio:
            pad_h = max(height, int(width * self.height / self.width))
            pad_w = max(width, int(height * self.width / self.height))
            padded = np.zeros((pad_h, pad_w, pixels.shape[2]), np.uint8)
            top, left = (pad_h - height) // 2, (pad_w - width) // 2
            padded[top : top + height, left : left + width] = pixels
            pixels = padded
        method = CV2_METHOD.get(self.interpolation)
        if method is None:
            out[...] = keras_resize(pixels, self.shape[:2], self.interpolation.value)
        elif pixels.shape[:2] == self.shape[:2]:
            out[...] = pixels
        else:
            pixels = np.ascontiguousarray(pixels)
            flat = out.reshape(self.height, self.width) if out.shape[2] == 1 else out
            cv2.resize(pixels, (self.width, self.height), dst=flat, interpolation=method)
        return out


def keras_resize(pixels: np.ndarray, size: tuple[int, int], method: str) -> np.ndarray:
    import keras
    import tensorflow as tf

    resized = keras.ops.image.resize(tf.cast(pixels, tf.float32), size, interpolation=method)
    return tf.saturate_cast(tf.round(resized), tf.uint8).numpy()


def scratch(nbytes: int) -> np.ndarray:
    """This thread's reusable decode buffer: a fresh one per image would page-fault every time."""
    buffer = getattr(_scratch, "buffer", None)
    if buffer is None or buffer.size < nbytes:
        buffer = _scratch.buffer = np.empty(nbytes, np.uint8)
    return buffer


def to_mode(image: Image.Image, mode: str) -> Image.Image:
    """Convert to L/RGB/RGBA, keeping 16-bit images' brightness and palette transparency. Float
    pixels, and integers beyond 16 bits, are refused (the file is skipped with the reason): their
    scale is not in the file, and Pillow's conversion clips them (a 0-1 float scan would train as a
    black image)."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L"):
        pixels = np.asarray(image, dtype=np.int64)
        if pixels.size and not 0 <= pixels.min() <= pixels.max() <= 65535:
            raise ValueError(
                f"32-bit integer pixels from {pixels.min()} to {pixels.max()}, beyond 16 bits: "
                f"save it as an 8- or 16-bit image"
            )
        image = Image.fromarray((pixels >> 8).astype(np.uint8))
    elif image.mode == "F":
        raise ValueError(
            "32-bit float pixels, whose scale (0-1? 0-255?) the file does not say: save it as an 8- "
            "or 16-bit image, or read it with data=generator and its data.value_range"
        )
    elif image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image if image.mode == mode else image.convert(mode)


def jpeg_orientation(data: bytes) -> int:
    """The EXIF orientation (1-8) in a JPEG's APP1 segment, read from the bytes; 1 if none."""
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF and data[at + 1] not in (0xDA, 0xD9):
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if data[at + 1] == 0xE1 and data[at + 4 : at + 10] == b"Exif\0\0":
            return tiff_orientation(data[at + 10 : at + 2 + length])
        at += 2 + length
    return 1


def tiff_orientation(tiff: bytes) -> int:
    """Tag 0x0112 of the first IFD of an EXIF TIFF block."""
    order = "little" if tiff[:2] == b"II" else "big"

    def number(at: int, size: int) -> int:
        return int.from_bytes(tiff[at : at + size], order)

    ifd = number(4, 4)
    for entry in range(ifd + 2, min(len(tiff), ifd + 2 + 12 * number(ifd, 2)), 12):
        if number(entry, 2) == 0x0112:
            value = number(entry + 8, 2)
            return value if 1 <= value <= 8 else 1
    return 1
