"""Many images -> the rows of one uint8 array, decoded in threads: a cache's fill, and the batches
that predict, evaluate and ``data.cache=none`` decode.

``decode.Decoder`` releases the GIL (libjpeg-turbo, Pillow and OpenCV), so threads decode in
parallel, each straight into its rows. A file that no decoder can read is left out with the
reason instead of killing an epoch.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from runner.cpus import usable_cores
from runner.decode import Decoder
from runner.sources.index import progress
from runner.sources.verify import header_problem

CHUNK = 64  # images per thread task: amortises the hand-off, small enough to balance the threads


def decode_rows(out: np.ndarray, items: list, rows: Iterable[int], decoder: Decoder) -> dict[int, str]:
    """Decode ``items[i]`` into ``out[i]`` for each of ``rows``, here; position -> reason for failures."""
    failed = {}
    for i in rows:
        try:
            decoder(items[i], out[i])
        except Exception as err:  # noqa: BLE001 - each decoder raises its own types
            failed[i] = why(items[i], err)
    return failed


def decode_into(out: np.ndarray, items: list, decoder: Decoder) -> dict[int, str]:
    """Decode every item into its row of ``out``, in threads; position -> reason for failures."""

    def work(start: int) -> dict[int, str]:
        return decode_rows(out, items, range(start, min(start + CHUNK, len(items))), decoder)

    bad: dict[int, str] = {}
    starts = range(0, len(items), CHUNK)
    with (
        ThreadPoolExecutor(max_workers=usable_cores()) as pool,
        progress(len(items), "decoding") as bar,
    ):
        for start, failed in zip(starts, pool.map(work, starts), strict=True):
            bad.update(failed)
            bar.update(min(CHUNK, len(items) - start))
    return bad


def decode_batch(
    items: list, decoder: Decoder, threads: bool
) -> tuple[np.ndarray, list[int], dict[int, str]]:
    """``items`` decoded, less the ones that fail: (their images, their positions in ``items``,
    position -> reason for the others). In ``threads``, or here (already in a tf.data worker)."""
    images = np.empty((len(items), *decoder.shape), np.uint8)
    if threads:
        bad = decode_into(images, items, decoder)
    else:
        bad = decode_rows(images, items, range(len(items)), decoder)
    good = [i for i in range(len(items)) if i not in bad]
    return (images[good] if bad else images), good, bad


def why(item: str | np.ndarray, err: Exception) -> str:
    """What is wrong with a file, in the words of the data check when its header already tells."""
    problem = header_problem(item) if isinstance(item, str) else None
    return problem or f"cannot decode: {type(err).__name__}: {err}"
