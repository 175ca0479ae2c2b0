"""``data.verify``: what is wrong with a file, from its header or a full decode, and the data
check that moves such files from an index to its skipped ones, each with its reason."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import simplejpeg
from PIL import Image, UnidentifiedImageError

from runner.cpus import usable_cores
from runner.schemas.data import Verify
from runner.sources.filetypes import open_heif, unreadable
from runner.sources.index import FileIndex, progress

# Pillow warns of images between its pixel limit and twice it, which it opens: so does the runner,
# and images past twice it are skipped with their reason (``over_pillow_limit``), not a warning.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
open_heif()  # the decoder reads an iPhone's photos (.heic) where pillow-heif is installed: so does the check


def header_problem(path: str) -> str | None:
    """Why ``path`` is not a readable image, from its header alone; None if it looks fine."""
    try:
        if os.path.getsize(path) == 0:
            return "empty file (0 bytes)"
        with Image.open(path) as image:  # any format Pillow knows: the decoder's (TIFF too)
            if min(image.size) < 1:
                return f"image has no pixels: size {image.size}"
    except UnidentifiedImageError:
        return unreadable(path) or "not an image: Pillow cannot identify the file's contents"
    except OSError as err:
        return f"unreadable: {err}"
    except Image.DecompressionBombError as err:
        return over_pillow_limit(path, err, full=False)
    return None


def full_problem(path: str) -> str | None:
    """``header_problem``, then a full decode at native size (finds truncated and corrupt data)."""
    problem = header_problem(path)
    if problem:
        return problem
    try:
        with Image.open(path) as image:
            image.load()
    except Image.DecompressionBombError as err:
        return over_pillow_limit(path, err, full=True)
    except Exception as err:  # noqa: BLE001 - decoders raise many types
        return f"cannot decode: {type(err).__name__}: {err}"
    return None


def over_pillow_limit(path: str, err: Exception, full: bool) -> str | None:
    """A file past Pillow's pixel limit, its guard against a PNG that inflates to gigabytes: a JPEG
    that libjpeg-turbo reads is no such risk, as the runner decodes it scaled in the DCT (1/8 of a
    200 MP photo's pixels for a small target: ``decode.Decoder.jpeg``), so it passes; with ``full``,
    once all its data decodes (at 1/8 scale, strictly: a truncated file fails)."""
    with open(path, "rb") as file:
        data = file.read()
    try:
        height, width, _, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return f"too large to decode safely: {err} Downscale it, or leave it out."
    if full:
        try:
            simplejpeg.decode_jpeg(data, min_height=-(-height // 8), min_width=-(-width // 8))
        except ValueError as problem:
            return f"cannot decode: {type(problem).__name__}: {problem}"
    return None


def header_size(path: str) -> tuple[int, int] | None:
    """(height, width) from the file's header; None for a file that is no readable image."""
    try:
        with Image.open(path) as image:
            return image.size[::-1]
    except Image.DecompressionBombError:  # a JPEG over Pillow's limit: its decoder's own reading
        with open(path, "rb") as file:
            try:
                return tuple(simplejpeg.decode_jpeg_header(file.read())[:2])
            except ValueError:
                return None
    except (UnidentifiedImageError, OSError):
        return None


CHECKS: dict[Verify, Callable[[str], str | None]] = {Verify.header: header_problem, Verify.full: full_problem}


def check(index: FileIndex, verify: Verify) -> FileIndex:
    """The index without its bad files (moved to skipped), with their reasons.

    Threads, since Pillow releases the GIL on I/O and decode."""
    if verify == Verify.none:
        return index
    with ThreadPoolExecutor(max_workers=min(32, 4 * usable_cores())) as pool:
        checked = pool.map(CHECKS[verify], index.paths, chunksize=64)
        problems = list(progress(len(index), f"checking files ({verify.name})", checked))
    return index.without({i: problem for i, problem in enumerate(problems) if problem})
