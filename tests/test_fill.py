"""Decoding many files into the rows of one array: what a file that cannot be decoded leaves."""

from __future__ import annotations

import ast
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from conftest import photo_folder, write_image
from PIL import Image

from runner import fill
from runner.decode import Decoder
from runner.schemas.data import ColorMode, Interpolation


def png_bomb(path: Path, width: int = 15000, height: int = 12000) -> Path:
    """A ~175 KB PNG of 180 million black pixels, over Pillow's decompression-bomb limit, written
    row by row (never held whole)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows, row = zlib.compressobj(9), bytes(width + 1)  # filter byte 0, then a row of zeros
    pixels = b"".join(rows.compress(row) for _ in range(height)) + rows.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
    return path


def test_a_decompression_bomb_is_left_out_with_the_reason(tmp_path):
    # It crashed the run: Pillow's guard raised from the decode, then from the header check that
    # says why a file failed.
    good = sorted(str(p) for p in photo_folder(tmp_path / "photos", per_class=1).rglob("*.*"))
    bomb = str(png_bomb(tmp_path / "photos" / "cat" / "bomb.png"))
    _, kept, failed = fill.decode_batch(
        [*good, bomb], Decoder(16, 16, ColorMode.rgb, Interpolation.bilinear), True
    )
    assert kept == list(range(len(good)))
    assert failed[len(good)].startswith("too large to decode safely: Image size (180000000 pixels) exceeds")


def test_a_jpeg_over_pillows_limit_is_decoded_scaled_and_checked(tmp_path):
    # Pillow refused a 200 MP camera JPEG (its guard against PNG bombs) in the header check of
    # data.cache=none, so a cached run and an uncached one trained on different files, and
    # runner.check's size summary crashed on it; below twice the limit it printed a warning. The
    # limit lowered, in a fresh process, so that small files stand for huge ones.
    folder = tmp_path / "photos"
    noise = np.random.default_rng(0).integers(0, 256, (48, 64, 3), np.uint8)
    folder.mkdir()
    Image.fromarray(noise).save(folder / "big.jpg")  # 3,072 pixels: over 2 x 1,000
    write_image(folder / "bomb.png", (64, 48))
    write_image(folder / "warned.jpg", (40, 30))  # 1,200: between the limit and twice it
    data = (folder / "big.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(data[: len(data) // 2])  # a truncated one
    script = f"""
from PIL import Image
from runner import fill
from runner.decode import Decoder
from runner.schemas.data import ColorMode, Interpolation
from runner.sources.verify import full_problem, header_problem, header_size
Image.MAX_IMAGE_PIXELS = 1000
names = ("big.jpg", "bomb.png", "warned.jpg", "cut.jpg")
paths = [{str(folder)!r} + "/" + name for name in names]
print([header_problem(p) is None for p in paths])
print([full_problem(p) is None for p in paths])
print([header_size(p) for p in paths])
_, kept, failed = fill.decode_batch(paths, Decoder(16, 16, ColorMode.rgb, Interpolation.bilinear), True)
print([names[i] for i in kept])
print(sorted(failed.values()))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    headers, full, sizes, kept, reasons = result.stdout.splitlines()
    assert headers == "[True, False, True, True]"  # the PNG alone: "too large to decode safely"
    assert full == "[True, False, True, False]"  # and the truncated JPEG, once decoded
    assert sizes == "[(48, 64), None, (30, 40), (48, 64)]"
    assert kept == "['big.jpg', 'warned.jpg']"
    truncated, bomb = ast.literal_eval(reasons)  # the truncated one's reason is libjpeg-turbo's, not the size
    assert truncated == "cannot decode: ValueError: Premature end of JPEG file"
    assert bomb.startswith("too large to decode safely: Image size (3072 pixels) exceeds limit")
    assert "DecompressionBombWarning" not in result.stderr
