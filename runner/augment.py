"""The augmentation stack: ``aug.ops`` (name -> Keras layer config) built in order, seeded.

Where it runs is ``aug.placement``: ``pipeline`` maps the layers over training batches in tf.data
on the CPU, after the cache; ``model`` puts them at the front of the model, where Keras runs them
only in training, on the accelerator if there is one. Validation data is never augmented.
"""

from __future__ import annotations

import inspect

import keras
from omegaconf import DictConfig

from runner.config import Placement, build, check_targets, locate


def layers(cfg: DictConfig, seed: int) -> list[keras.layers.Layer]:
    """One layer per op, in config order; each random layer gets its own seed derived from ``seed``."""
    stack = []
    for i, (name, op) in enumerate(cfg.ops.items()):
        if op is None:  # an op removed with `aug.ops.NAME=null`
            continue
        where = f"aug.ops.{name}"
        check_targets(op, where)
        seeded = "seed" in inspect.signature(locate(op._target_, where)).parameters and "seed" not in op
        stack.append(build(op, where, **({"seed": seed + 1000 * (i + 1)} if seeded else {})))
    return stack


def split_by_placement(cfg: DictConfig, seed: int) -> tuple[list, list]:
    """(layers for the tf.data pipeline, layers for the front of the model)."""
    stack = layers(cfg, seed)
    return (stack, []) if cfg.placement == Placement.pipeline else ([], stack)
