"""What a model you give (``model.fn``'s, ``model.path``'s) must output for the runner to train it:
probabilities, one per class, or for a regression one unbounded number. Tried on two images before
the run, so what Keras would say only inside ``fit`` (or never: logits trained as probabilities)
is one line now.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from runner.errors import RunnerError, keras_said


def check_yours(
    model: Any, fn: str, input_shape: tuple[int, ...], num_classes: int, output: str | None = None
) -> None:
    """What your function's model must be for the runner to train it: a model that takes a batch
    of the data's images and gives probabilities, one per class (``output`` as ``head``'s; for a
    ``linear`` one, any number). Tried on two images (black, and random pixels), so what Keras
    would say only inside ``fit`` is one line now."""
    if not isinstance(model, keras.Model):
        raise RunnerError(f"model.fn={fn}: returned {type(model).__name__}, not a keras.Model.")
    black = np.zeros(input_shape, np.float32)
    noise = np.random.default_rng(0).uniform(0, 255, input_shape).astype(np.float32)
    try:
        found = keras.ops.convert_to_numpy(model(np.stack([black, noise]), training=False))
    except Exception as err:  # noqa: BLE001 - whatever Keras raises for the model it was given
        raise RunnerError(
            f"model.fn={fn}: its model fails on a batch of the data's images (float32, shape "
            f"{(2, *input_shape)}): {keras_said(err).rstrip('.')}. Build it for the input_shape the "
            f"runner passes."
        ) from err
    found = np.asarray(found, np.float64)
    if found.shape != (2, num_classes):
        raise RunnerError(
            f"model.fn={fn}: its model gives outputs of shape {found.shape[1:]} for each image, and "
            f"this run needs ({num_classes},): one per class (one for data.label_mode=binary or "
            f"regression). Use the num_classes the runner passes."
        )
    if output == "linear":  # a regression's number: any value is one, but not a squashed one
        if squashing := squashed(model):
            raise RunnerError(
                f"model.fn={fn}: its model ends in a {squashing}, and data.label_mode=regression "
                f"predicts any number (the runner scales its output to the numbers' range): end it "
                f"with keras.layers.Dense(1), no activation."
            )
        return
    if num_classes == 1 and np.all(found == 1.0):  # a softmax over one unit: 1 whatever it sees
        raise RunnerError(
            f"model.fn={fn}: its model's one output is always 1 (a softmax over one unit), so it cannot "
            f"learn: end it with keras.layers.Dense(1, activation='sigmoid') for data.label_mode=binary."
        )
    summed = np.allclose(found.sum(axis=-1), 1.0, atol=1e-3)
    # A softmax: the classes would compete, where each is its own yes or no. (Two sigmoids of an
    # untrained model sum to 1 on a black image too: 0.5 each.)
    if output == "sigmoid" and num_classes > 2 and summed:
        raise RunnerError(
            f"model.fn={fn}: its model's outputs sum to 1 (a softmax), and data.label_mode=multi_hot "
            f"needs each class's own probability: end it with "
            f"keras.layers.Dense(num_classes, activation='sigmoid')."
        )
    sigmoid = num_classes == 1 or output == "sigmoid"
    last = "keras.layers.Dense(num_classes, activation='softmax')"
    if sigmoid:
        last = f"keras.layers.Dense({'1' if num_classes == 1 else 'num_classes'}, activation='sigmoid')"
    if not ((summed or sigmoid) and np.all((found >= 0) & (found <= 1))):
        example = np.round(found[1], 3).tolist()
        raise RunnerError(
            f"model.fn={fn}: its model's outputs are not probabilities (e.g. {example}): end it with "
            f"{last}; the runner's loss takes probabilities, not logits."
        )
    # An untrained linear unit's outputs can fall in 0-1 on the two images by chance: its output
    # layer tells.
    if getattr(model.layers[-1], "activation", None) is keras.activations.linear:
        raise RunnerError(
            f"model.fn={fn}: its model's output layer has no activation, so it gives logits, not "
            f"probabilities: end it with {last}; the runner's loss takes probabilities."
        )


def squashed(model: keras.Model) -> str | None:
    """The activation that bounds the model's output (sigmoid, softmax), if its last layer has one."""
    activation = getattr(model.layers[-1], "activation", None)
    bounding = (keras.activations.sigmoid, keras.activations.softmax)
    return activation.__name__ if activation in bounding else None
