"""The ``trainer`` values that can be refused before TensorFlow starts (``checks.check_config``
calls ``check_trainer``), and what a run reports: the metric names ``trainer.monitor`` may take,
and which way each is better (the sweep ranks by it; Keras's callbacks infer the same).
"""

from __future__ import annotations

import difflib

import numpy as np
from omegaconf import DictConfig

from runner.errors import RunnerError
from runner.schemas.data import LabelMode
from runner.schemas.trainer import Schedule
from runner.words import closest

# For suggestions only (``targets.check`` asks Keras itself): the spelling of Keras's optimizers.
KERAS_OPTIMIZERS = (
    "Adadelta Adafactor Adagrad Adam AdamW Adamax Ftrl Lamb Lion Muon Nadam RMSprop SGD ScheduleFreeAdamW"
)


# The same for ``trainer.loss``, and what people call them (``mae``, ``mse``).
KERAS_LOSSES = (
    "BinaryCrossentropy BinaryFocalCrossentropy CategoricalCrossentropy CategoricalFocalCrossentropy "
    "CategoricalGeneralizedCrossEntropy CategoricalHinge Circle CosineSimilarity Dice Hinge Huber "
    "KLDivergence LogCosh MeanAbsoluteError MeanAbsolutePercentageError MeanSquaredError "
    "MeanSquaredLogarithmicError Poisson SparseCategoricalCrossentropy SquaredHinge Tversky"
)
LOSS_ALIASES = {
    "mae": "MeanAbsoluteError",
    "mse": "MeanSquaredError",
    "focal": "CategoricalFocalCrossentropy",
}


def loss_by_name(value: object) -> str:
    """``trainer.loss=huber``: the override that says it here."""
    given = str(value).rpartition(".")[2].lower()
    lower = {known.lower(): known for known in KERAS_LOSSES.split()}
    found = difflib.get_close_matches(given, lower, n=1, cutoff=0.5)
    name = LOSS_ALIASES.get(given) or (lower[found[0]] if found else "Huber")
    return (
        f"trainer.loss={value}: a loss is set by its Keras class, with its arguments beside it, not by "
        f"a name: 'trainer.loss={{_target_: keras.losses.{name}}}' (any class in keras.losses), or "
        f"null for the runner's own."
    )


def optimizer_by_name(value: object) -> str:
    """``trainer.optimizer=sgd`` (a name, as other tools take it): the override that says it here."""
    given = "adam" if value is None else str(value).rpartition(".")[2].lower()
    lower = {known.lower(): known for known in KERAS_OPTIMIZERS.split()}
    name = lower[(difflib.get_close_matches(given, lower, n=1, cutoff=0.5) or ["adam"])[0]]
    return (
        f"trainer.optimizer={'null' if value is None else value}: an optimizer is set by its Keras "
        f"class, with its arguments beside it, not by a name: trainer.optimizer._target_="
        f"keras.optimizers.{name} (any class in keras.optimizers), e.g. with "
        f"trainer.optimizer.learning_rate=0.01."
    )


def check_validation(monitor: str, split: np.ndarray) -> None:
    """A val_* monitor with no validation images would have nothing to return to a sweeper."""
    if monitor.startswith("val_") and not (split == "val").any():
        raise RunnerError(
            f"trainer.monitor={monitor}: this run has no validation images. Set "
            f"trainer.monitor={monitor.removeprefix('val_')}, or data.validation_split=0.2."
        )


# What a regression reports beside its loss (mean squared error): the mean absolute error and its
# root mean squared error, both in the numbers' own unit.
REGRESSION_METRICS = ("mae", "rmse")


def metric_names(top_k: int | None, label_mode: LabelMode = LabelMode.int) -> list[str]:
    """What fit reports with ``fit_metrics``, each also as val_* with validation data."""
    if label_mode == LabelMode.regression:
        return ["loss", *REGRESSION_METRICS]
    ranked = ["auc"] if label_mode == LabelMode.multi_hot else []
    return ["loss", "accuracy", *ranked, *([f"top{top_k}_accuracy"] if top_k else [])]


def lower_is_better(monitor: str) -> bool:
    """Whether a smaller ``monitor`` is a better model: the loss and the regression's errors."""
    return monitor.removeprefix("val_") in ("loss", *REGRESSION_METRICS)


def sweep_direction(monitor: str) -> str:
    """Optuna's word for which way ``monitor`` is better (``${runner.direction:...}`` in a sweep's
    config, so ``experiment=tune`` minimises a loss or an error without being told)."""
    return "minimize" if lower_is_better(monitor) else "maximize"


UNIT = (lambda value: 0 <= value < 1, "at least 0 and less than 1")
POSITIVE = (lambda value: value > 0, "greater than 0")
# Keras's optimizers take any number for these and train into nonsense (Adam with beta_1=2 diverges,
# and the run's line then blames the learning rate): the ranges their documentation gives.
OPTIMIZER_RANGES = {
    "beta_1": (*UNIT, 0.9),
    "beta_2": (*UNIT, 0.999),
    "rho": (*UNIT, 0.9),
    "momentum": (*UNIT, 0.9),
    "ema_momentum": (*UNIT, 0.99),
    "epsilon": (*POSITIVE, 1e-07),
    "weight_decay": (lambda value: value >= 0, "at least 0", 0.004),
    "clipnorm": (*POSITIVE, 1.0),
    "clipvalue": (*POSITIVE, 1.0),
    "global_clipnorm": (*POSITIVE, 1.0),
}


def check_optimizer_values(optimizer: DictConfig) -> None:
    """Numbers out of the range an optimizer's argument means anything in (of another type, Keras
    fails in the first step: ``trainer.try_optimizer``)."""
    for key, (fine, words, example) in OPTIMIZER_RANGES.items():
        value = optimizer.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and not fine(value):
            raise RunnerError(
                f"trainer.optimizer.{key}={value}: must be {words}, e.g. trainer.optimizer.{key}={example}."
            )


def check_trainer(cfg: DictConfig, label_mode: LabelMode = LabelMode.int) -> None:
    """Refuse what would only fail, or mislead a sweep, after the data is decoded."""
    if cfg.epochs < 1:
        raise RunnerError(f"trainer.epochs={cfg.epochs}: must be at least 1, e.g. trainer.epochs=10.")
    if not 0 <= cfg.seed < 2**32:
        raise RunnerError(
            f"trainer.seed={cfg.seed}: must be in 0..{2**32 - 1} (NumPy's range), e.g. trainer.seed=0."
        )
    if cfg.early_stopping_patience is not None and cfg.early_stopping_patience < 0:
        raise RunnerError(
            f"trainer.early_stopping_patience={cfg.early_stopping_patience}: must be at least 0 "
            f"(epochs without improvement before stopping), or null for no early stopping."
        )
    if not isinstance(cfg.optimizer, DictConfig):
        raise RunnerError(optimizer_by_name(cfg.optimizer))
    if cfg.loss is not None and not isinstance(cfg.loss, DictConfig):
        raise RunnerError(loss_by_name(cfg.loss))
    if cfg.loss is not None and cfg.label_smoothing:
        raise RunnerError(
            f"trainer.label_smoothing={cfg.label_smoothing}: smooths the runner's own cross-entropy, "
            f"and this run sets trainer.loss. Give the loss its own instead, e.g. "
            f"+trainer.loss.label_smoothing={cfg.label_smoothing} with trainer.label_smoothing=0."
        )
    rate = cfg.optimizer.get("learning_rate")
    # A schedule (a mapping with a _target_) is Keras's to check. 0 is allowed: weights that stay.
    if isinstance(rate, str | bool) or (isinstance(rate, int | float) and rate < 0):
        raise RunnerError(
            f"trainer.optimizer.learning_rate={rate}: must be a number of at least 0, "
            f"e.g. trainer.optimizer.learning_rate=1e-3."
        )
    check_optimizer_values(cfg.optimizer)
    if cfg.lr_schedule != Schedule.constant and not isinstance(rate, int | float):
        raise RunnerError(
            f"trainer.lr_schedule={cfg.lr_schedule.value}: needs a number in trainer.optimizer."
            f"learning_rate (where the schedule starts from), not {rate!r}. Set one, e.g. "
            f"trainer.optimizer.learning_rate=1e-3."
        )
    if cfg.warmup_epochs and cfg.lr_schedule != Schedule.cosine:
        raise RunnerError(
            f"trainer.warmup_epochs={cfg.warmup_epochs}: only trainer.lr_schedule=cosine warms up "
            f"(this run's is {cfg.lr_schedule.value}). Add trainer.lr_schedule=cosine, or set "
            f"trainer.warmup_epochs=0."
        )
    if cfg.lr_schedule == Schedule.plateau and not (cfg.plateau_patience >= 0 and 0 < cfg.plateau_factor < 1):
        raise RunnerError(
            f"trainer.plateau_patience={cfg.plateau_patience}, trainer.plateau_factor={cfg.plateau_factor}: "
            f"the patience must be at least 0 epochs and the factor between 0 and 1 (exclusive), "
            f"e.g. trainer.plateau_patience=2 trainer.plateau_factor=0.5."
        )
    if cfg.lr_schedule == Schedule.cosine and not 0 <= cfg.warmup_epochs < cfg.epochs:
        raise RunnerError(
            f"trainer.warmup_epochs={cfg.warmup_epochs}: must be at least 0 and less than "
            f"trainer.epochs={cfg.epochs}, so that some epochs decay: lower it (e.g. "
            f"trainer.warmup_epochs=0) or raise trainer.epochs."
        )
    if cfg.class_weight not in (None, "balanced"):
        raise RunnerError(
            f"trainer.class_weight={cfg.class_weight}: the only option is 'balanced' (or null for none)."
        )
    if cfg.top_k is not None and cfg.top_k < 2:
        raise RunnerError(
            f"trainer.top_k={cfg.top_k}: must be at least 2 (top-1 is accuracy), e.g. trainer.top_k=5."
        )
    reported = metric_names(cfg.top_k, label_mode)
    names = [*reported, *(f"val_{name}" for name in reported)]
    if cfg.monitor not in names and label_mode == LabelMode.regression:
        raise RunnerError(
            f"trainer.monitor={cfg.monitor}: data.label_mode=regression reports {', '.join(names)}; "
            f"set trainer.monitor=val_mae (the mean absolute error, lower is better)."
        )
    if cfg.monitor not in names:
        raise RunnerError(
            f"trainer.monitor={cfg.monitor}: not a metric the runner reports.{closest(cfg.monitor, names)} "
            f"Metrics: {', '.join(names)}."
        )
