"""Model builders. Each takes the data's ``input_shape`` and ``num_classes`` plus its own config.

Models accept uint8 images and cast/rescale them in their first layer, so the input pipeline
moves 4x fewer bytes and the logged model takes raw pixels at inference.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers


def small_cnn(
    input_shape: Sequence[int],
    num_classes: int,
    filters: Sequence[int] = (32, 64),
    dense: int = 128,
    dropout: float = 0.25,
    augmentation: Sequence[keras.layers.Layer] = (),
) -> keras.Model:
    """Conv-pool blocks, then a dense head: enough for digits and small photo folders."""
    inputs = keras.Input(shape=tuple(input_shape), dtype="uint8", name="image")
    x = inputs
    for layer in augmentation:  # active only in training (aug.placement=model)
        x = layer(x)
    x = layers.Rescaling(1.0 / 255)(x)
    for width in filters:
        x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(dense, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="small_cnn")
