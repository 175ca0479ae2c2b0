"""File index -> the run's images before tf.data: decoded once into their cache, the files that
fail to decode left out (each with its reason), split.

No TensorFlow here unless the cache is a memory cache for training (a ``tf.Variable``): this is
all that ``runner.check`` does, so the check reads, decodes and splits a folder as a run would
without starting TensorFlow; ``pipeline.build`` adds the batches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from runner import cache
from runner.decode import Decoder
from runner.schemas.data import Cache, DataConfig
from runner.sources import FileIndex, require_every_class
from runner.split import check_splittable, log_split, split_of, warn_uncovered

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    index: FileIndex  # less the files that failed to decode
    images: Any  # the cache (a tf.Variable, or NumPy's rows), or with data.cache=none the Decoder
    keys: np.ndarray  # per index entry: its row of the cache, or its path
    split: np.ndarray  # per index entry: "train", "val" or "test"
    input_shape: tuple[int, int, int]

    @property
    def parts(self) -> tuple[str, ...]:
        """The splits this run has, in the order its records list them."""
        return ("train", "val", "test") if np.any(self.split == "test") else ("train", "val")


def prepare(cfg: DataConfig, index: FileIndex, seed: int, tensorflow: bool = True) -> Prepared:
    """Decode ``index`` into its cache and split what decoded. A memory cache is a ``tf.Variable``
    for training, or with ``tensorflow=False`` a NumPy array (the check's: it trains nothing)."""
    check_splittable(cfg, index)  # before decoding
    decoder = Decoder.of(cfg)
    if cfg.cache == Cache.none and index.arrays is None:
        cache.forget()  # an earlier job's memory cache, of no use to this one
        images, keys = decoder, np.asarray(index.paths)
    else:
        images, bad = cache.load(index.arrays or index.paths, decoder, cfg.cache, cfg.cache_dir, tensorflow)
        keys = np.setdiff1d(np.arange(len(index)), np.fromiter(bad, dtype=np.int64))
        index = require_every_class(index.without(bad))
    capped = f" ({index.capped} more left out by data.max_per_class)" if index.capped else ""
    labelled = "with numbers" if index.numbers is not None else f"in {len(index.class_names)} classes"
    log.info("%d images %s%s, %s", len(index), labelled, capped, index.summary())

    split = split_of(cfg, index, seed)
    warn_uncovered(index, split)
    log_split(*(int(np.sum(split == part)) for part in ("train", "val", "test")), cfg.batch_size)
    return Prepared(index, images, keys, split, decoder.shape)
