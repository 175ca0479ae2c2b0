"""Data sources: a config in, a ``FileIndex`` (paths or arrays, integer labels, class names) out.

A source only lists and checks its images; decoding happens once, later, in ``runner.cache``.
"""

from typing import Any

from runner.sources.digits import DigitsSource
from runner.sources.files import GlobSource
from runner.sources.folders import DirSource
from runner.sources.generator import GeneratorSource
from runner.sources.index import FileIndex, require_every_class

__all__ = [
    "DigitsSource",
    "DirSource",
    "FileIndex",
    "GeneratorSource",
    "GlobSource",
    "index_of",
    "require_every_class",
]


def index_of(cfg: Any) -> FileIndex:
    """The images the ``data`` config names: its source's index, at most ``data.max_per_class``
    of each class."""
    from runner.targets import build

    return build(cfg, "data").index().capped_at(cfg.max_per_class)
