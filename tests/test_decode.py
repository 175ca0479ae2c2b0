"""The decoder: every mode and format to the asked colour mode and size, upright, like Keras resizes."""

from __future__ import annotations

import threading

import keras
import numpy as np
import pytest
import simplejpeg
from conftest import write_image
from PIL import Image, ImageOps

from runner import decode
from runner.decode import Decoder, jpeg_orientation
from runner.fill import decode_batch
from runner.schemas.data import ColorMode, Interpolation


def smooth(height: int, width: int) -> np.ndarray:
    """A gradient: JPEG keeps it nearly intact, so decoders can be compared pixel for pixel."""
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack([xx * 255 // width, yy * 255 // height, (xx + yy) * 255 // (height + width)], -1).astype(
        np.uint8
    )


def test_every_mode_and_format_becomes_the_requested_mode(tmp_path):
    paths = [
        write_image(tmp_path / f"{m}.png", (20, 10), (200, 100, 50), m) for m in ("L", "RGBA", "P", "RGB")
    ]
    paths += [write_image(tmp_path / f"{m}.jpg", (20, 10), (200, 100, 50), m) for m in ("L", "RGB")]
    sixteen = tmp_path / "16bit.png"
    Image.fromarray(np.full((10, 20), 40000, dtype=np.uint16)).save(sixteen)
    cmyk = tmp_path / "cmyk.jpg"  # libjpeg-turbo refuses CMYK to RGB: Pillow decodes it
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(cmyk)
    for mode in ColorMode:
        decoder = Decoder(8, 8, mode, Interpolation.bilinear)
        for path in [*paths, sixteen, cmyk]:
            pixels = decoder(str(path))
            assert pixels.shape == (8, 8, mode.value) and pixels.dtype == np.uint8, (path, mode)
    rgb = Decoder(8, 8, ColorMode.rgb, Interpolation.bilinear)
    assert abs(int(rgb(str(sixteen)).mean()) - 40000 // 256) <= 1
    red = rgb(str(cmyk)).reshape(-1, 3).mean(axis=0)
    assert red[0] > 200 and red[1] < 60  # CMYK (0, 255, 255, 0) is red


def test_float_and_32_bit_pixels_are_refused_not_clipped(tmp_path):
    # Pillow's conversion clipped a float TIFF of 0-1 values to a black image, and 32-bit integers
    # wrapped around in uint8: trained on, silently. Skipped with the reason instead.
    ramp = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    files = {"unit.tif": ramp, "bytes.tif": ramp * 255, "wide.tif": (ramp * 70000).astype(np.int32)}
    files["sixteen.tif"] = (ramp * 65535).astype(np.int32)  # 32-bit, holding 16-bit values: read
    for name, pixels in files.items():
        Image.fromarray(pixels).save(tmp_path / name)
    decoder = Decoder(8, 8, ColorMode.rgb, Interpolation.bilinear)
    _, kept, failed = decode_batch([str(tmp_path / name) for name in files], decoder, threads=False)
    assert kept == [3]
    assert (
        failed[0]
        == failed[1]
        == (
            "cannot decode: ValueError: 32-bit float pixels, whose scale (0-1? 0-255?) the file does not "
            "say: save it as an 8- or 16-bit image, or read it with data=generator and its data.value_range"
        )
    )
    assert failed[2].startswith("cannot decode: ValueError: 32-bit integer pixels from 0 to 70000, beyond")
    assert abs(int(decoder(str(tmp_path / "sixteen.tif")).mean()) - 127) <= 2


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_pillow_does(tmp_path, orientation):
    image = Image.new("RGB", (24, 16), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 12, 8))  # white top-left quarter: every flip/turn differs
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.jpg"
    image.save(path, exif=exif.tobytes(), quality=95)
    assert jpeg_orientation(path.read_bytes()) == orientation
    with Image.open(path) as opened:
        upright = np.asarray(ImageOps.exif_transpose(opened).convert("L"))
    decoded = Decoder(*upright.shape, ColorMode.grayscale, Interpolation.bilinear)(str(path))[..., 0]
    # Same layout: a wrong flip or turn would put white on black (a difference of ~255).
    assert np.abs(decoded.astype(int) - upright.astype(int)).max() < 40


def test_large_jpeg_decoded_at_reduced_scale_matches_a_full_decode(tmp_path):
    Image.fromarray(smooth(480, 640)).save(tmp_path / "big.jpg", quality=95)
    small = Decoder(60, 80, ColorMode.rgb, Interpolation.area)  # 1/8 of each side: DCT scale 1/8
    fast = small(str(tmp_path / "big.jpg"))
    with Image.open(tmp_path / "big.jpg") as opened:
        exact = np.asarray(opened.convert("RGB").resize((80, 60), Image.Resampling.BOX))
    assert fast.shape == exact.shape == (60, 80, 3)
    assert np.abs(fast.astype(int) - exact.astype(int)).mean() < 2.0


def test_a_jpeg_decoded_at_reduced_scale_needs_a_buffer_of_that_size_alone(tmp_path):
    # 479x641 at 1/8 is 60x81: libjpeg-turbo rounds up. Each decoding thread keeps its buffer.
    Image.fromarray(smooth(479, 641)).save(tmp_path / "big.jpg", quality=95)
    small = Decoder(56, 72, ColorMode.rgb, Interpolation.bilinear)
    held, images = [], []

    def decode_in_a_new_thread() -> None:
        images.append(small(str(tmp_path / "big.jpg")))
        held.append(decode._scratch.buffer.size)

    thread = threading.Thread(target=decode_in_a_new_thread)
    thread.start()
    thread.join()
    assert held == [60 * 81 * 3]  # not 479 * 641 * 3
    data = (tmp_path / "big.jpg").read_bytes()
    scaled = simplejpeg.decode_jpeg(data, fastdct=True, fastupsample=True, min_height=60, min_width=81)
    # libjpeg-turbo's own decode, not Pillow's (which a buffer too small would fall back to).
    assert np.array_equal(images[0], small.resize(scaled, np.empty(small.shape, np.uint8)))


@pytest.mark.parametrize("interpolation", list(Interpolation))
@pytest.mark.parametrize("box", ["stretch", "crop", "pad"])
def test_resize_matches_keras_resize(tmp_path, interpolation, box):
    pixels = smooth(37, 53)
    Image.fromarray(pixels).save(tmp_path / "image.png")  # lossless: only the resize differs
    crop, pad = box == "crop", box == "pad"
    ours = Decoder(24, 20, ColorMode.rgb, interpolation, crop, pad)(str(tmp_path / "image.png"))
    theirs = keras.ops.image.resize(
        pixels.astype("float32"),
        (24, 20),
        interpolation=interpolation.value,
        crop_to_aspect_ratio=crop,
        pad_to_aspect_ratio=pad,
    )
    theirs = np.clip(np.round(keras.ops.convert_to_numpy(theirs)), 0, 255)
    # OpenCV's fixed-point bilinear/area round differently from TF's float resize by at most a few levels.
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 3
