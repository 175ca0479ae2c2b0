"""Where a key the user misplaced lives: ``epochs=3`` is ``trainer.epochs``, ``data.lr`` is
``trainer.optimizer.learning_rate``. A refusal of an unknown key names it, ahead of the nearest
spelling in the place the user wrote (which, for ``trainer.learning_rate``, would be
``early_stopping_patience``). A choice by another tool's name for it (``trainer.precision=fp16``)
gets the runner's name for it too."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from omegaconf import DictConfig

from runner.config import SCHEMAS

# The names other tools (PyTorch Lightning, timm, Keras tutorials) give what the runner names so.
KNOWN_AS = {
    "lr": "learning_rate",
    "bs": "batch_size",
    "epoch": "epochs",
    "num_epochs": "epochs",
    "n_epochs": "epochs",
    "max_epochs": "epochs",
    "img_size": "image_size",
    "input_size": "image_size",
    "size": "image_size",
    "optim": "optimizer",
    "patience": "early_stopping_patience",
    "augment": "aug",
    "augmentation": "aug",
}


# A choice by the name other tools give it (PyTorch Lightning's precision="16-mixed", "bf16").
KNOWN_CHOICES = {
    "fp16": "mixed_float16",
    "16": "mixed_float16",
    "16-mixed": "mixed_float16",
    "float16": "mixed_float16",
    "half": "mixed_float16",
    "bf16": "mixed_bfloat16",
    "bf16-mixed": "mixed_bfloat16",
    "bfloat16": "mixed_bfloat16",
    "fp32": "float32",
    "32": "float32",
    "ram": "memory",
    "gray": "grayscale",
    "grey": "grayscale",
    "greyscale": "grayscale",
    "l": "grayscale",
    "linear": "bilinear",
    "sparse": "int",
    "onehot": "categorical",
    "one_hot": "categorical",
    "multilabel": "multi_hot",
    "multi_label": "multi_hot",
    "gpu": "model",  # aug.placement: augmentation inside the model runs on the accelerator
    "cpu": "pipeline",  # ... in tf.data, on the CPU
}


def known_choice(value: str, options: list[str]) -> str:
    """' Did you mean 'mixed_float16'?' for a value other tools call so, among ``options``."""
    meant = KNOWN_CHOICES.get(value.lower())
    return f" Did you mean '{meant}'?" if meant in options else ""


def config_keys(node: DictConfig, where: str = "") -> Iterator[str]:
    """Every key of ``node``, nested ones as ``a.b.c``; Hydra's own settings left out."""
    for key, value in node.items_ex(resolve=False):
        if where == "" and key == "hydra":
            continue
        path = f"{where}{key}"
        yield path
        if isinstance(value, DictConfig):
            yield from config_keys(value, f"{path}.")


def elsewhere(key: str, root: DictConfig) -> str:
    """ " Did you mean 'trainer.epochs'?" where the config has ``key``'s name (or what other tools
    call it) in one other place; '' where it has none, or several. A key of another option of its
    group (``model.path`` with ``small_cnn``) is said as that option first: the same name elsewhere
    (``data.path``) is not what was meant."""
    if options := other_options(key):
        which = "it" if len(options) == 1 else "one"
        return f" It is a key of {' and '.join(options)}: choose {which}, e.g. {options[0]} {key}=..."
    name = key.rpartition(".")[2]
    name = KNOWN_AS.get(name.lower(), name)
    found = [path for path in config_keys(root) if path.rpartition(".")[2] == name and path != key]
    return f" Did you mean '{found[0]}'?" if len(found) == 1 else ""


def other_options(key: str) -> list[str]:
    """The options of ``key``'s group whose schema has it (``model.path``: ``model=file``), each as
    ``group=option``; ``conf/<group>/<option>.yaml`` extends the schema ``<group>_<option>``."""
    group, _, name = key.partition(".")
    return [
        f"{group}={stored.removeprefix(f'{group}_')}"
        for stored, schema in SCHEMAS.items()
        if stored.startswith(f"{group}_") and name in {field.name for field in dataclasses.fields(schema)}
    ]
