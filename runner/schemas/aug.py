"""``aug``: the augmentation stack (``runner.augment``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Placement(Enum):
    pipeline = "pipeline"
    model = "model"


@dataclass
class AugConfig:
    """An ordered stack of Keras preprocessing layers, each ``name: {_target_: ..., **kwargs}``."""

    ops: dict[str, Any] = field(default_factory=dict)
    placement: Placement = Placement.pipeline
