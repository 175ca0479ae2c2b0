"""Data sources: a config in, a ``FileIndex`` (paths or arrays, integer labels, class names) out.

A source only lists and checks its images; decoding happens once, later, in ``runner.cache``.
"""

from runner.sources.files import GlobSource
from runner.sources.folders import DigitsSource, DirSource
from runner.sources.generator import GeneratorSource
from runner.sources.index import FileIndex, require_every_class

__all__ = ["DigitsSource", "DirSource", "FileIndex", "GeneratorSource", "GlobSource", "require_every_class"]
