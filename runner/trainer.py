"""What the ``trainer`` group gives ``model.compile`` and ``model.fit``: the seed and
determinism, the loss and metrics for ``data.label_mode``, the optimizer on its learning-rate
schedule, class weights, and the dtype policy the model is built in. ``fit`` uses them; what can be
refused before TensorFlow starts is ``trainer_checks``'.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from omegaconf import DictConfig
from sklearn.utils.class_weight import compute_class_weight

from runner import cpus, fit_log, pipeline, tflog
from runner.errors import RunnerError, keras_said
from runner.schemas.data import LabelMode
from runner.schemas.trainer import Precision, Schedule
from runner.scores import THRESHOLD
from runner.split import imbalance
from runner.targets import build

log = logging.getLogger(__name__)


def seed_everything(seed: int, deterministic: bool) -> None:
    keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow generators
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def fit_metrics(label_mode: LabelMode, top_k: int | None) -> list:
    """Accuracy, and with ``trainer.top_k`` how often the true class is among the k likeliest
    (for many classes, where near misses are the rule). For several classes per image, accuracy
    is over every (image, class) yes or no at ``THRESHOLD``, and ``auc`` ranks without one."""
    if label_mode == LabelMode.regression:  # trainer_checks.REGRESSION_METRICS, in the numbers' unit
        return [keras.metrics.MeanAbsoluteError(name="mae"), keras.metrics.RootMeanSquaredError(name="rmse")]
    if label_mode == LabelMode.multi_hot:
        tflog.quiet_eigen_fallback()  # the AUC's update transposes booleans and int32
        return [
            keras.metrics.BinaryAccuracy(name="accuracy", threshold=THRESHOLD),
            keras.metrics.AUC(multi_label=True, name="auc"),
        ]
    if not top_k:
        return ["accuracy"]
    name = f"top{top_k}_accuracy"
    if label_mode == LabelMode.int:
        return ["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(top_k, name=name)]
    return ["accuracy", keras.metrics.TopKCategoricalAccuracy(top_k, name=name)]


def loss(trainer: DictConfig, label_mode: LabelMode, classes: int) -> keras.losses.Loss:
    """``trainer.loss``, first tried on two images' labels and outputs of this run's kind: a loss
    made for other labels (one for class numbers, given one-hot rows) fails only inside
    ``model.fit``, after the decode. Null: ``own_loss``."""
    if trainer.loss is None:
        return own_loss(label_mode, trainer.label_smoothing)
    chosen = build(trainer.loss, "trainer.loss")
    labels, outputs = example_batch(label_mode, classes)
    try:
        chosen(labels, outputs)
    except (TypeError, ValueError, tf.errors.OpError) as err:
        raise RunnerError(
            f"trainer.loss ({type(chosen).__name__}): cannot score this run's labels "
            f"(data.label_mode={label_mode.value}: {LABELS[label_mode]}) against its model's outputs "
            f"({outputs.shape[1]} per image): {keras_said(err).rstrip('.')}. Use a loss made for "
            f"them, or another data.label_mode."
        ) from err
    return chosen


# What the pipeline gives a loss for each image, by data.label_mode (``pipeline.label_encoder``).
LABELS = {
    LabelMode.int: "a class number",
    LabelMode.categorical: "a one-hot row of the classes",
    LabelMode.binary: "0 or 1",
    LabelMode.multi_hot: "a 0/1 row of the classes",
    LabelMode.regression: "a number",
}


def example_batch(label_mode: LabelMode, classes: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Two images' labels, as the pipeline encodes them, and outputs of the model's shape."""
    if label_mode == LabelMode.regression:
        labels, outputs = np.array([0.5, 1.5], np.float32), np.ones((2, 1), np.float32)
    elif label_mode == LabelMode.multi_hot:
        labels, outputs = np.eye(2, classes, dtype=np.int32), np.full((2, classes), 0.5, np.float32)
    else:
        units = 1 if label_mode == LabelMode.binary else classes
        labels, outputs = np.array([0, 1], np.int32), np.full((2, units), 1 / max(units, 2), np.float32)
    return pipeline.label_encoder(label_mode, classes)(tf.constant(labels)), tf.constant(outputs)


def own_loss(label_mode: LabelMode, smoothing: float) -> keras.losses.Loss:
    """The cross-entropy for ``data.label_mode`` (``checks.check_labels`` refused smoothing of int
    labels), or a regression's mean squared error."""
    if label_mode == LabelMode.regression:
        return keras.losses.MeanSquaredError()
    if label_mode == LabelMode.int:
        return keras.losses.SparseCategoricalCrossentropy()
    if label_mode in (LabelMode.binary, LabelMode.multi_hot):  # a sigmoid per output
        return keras.losses.BinaryCrossentropy(label_smoothing=smoothing)
    return keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)


def class_weights(mode: str | None, data: pipeline.Data) -> dict[int, float] | None:
    """``balanced``: n_samples / (n_classes * count) over the training split, so rare classes count more."""
    if mode is None:
        if said := imbalance(data.index, data.split):
            log.warning(said)
        return None
    labels = data.index.labels[data.split == "train"]
    classes = np.arange(len(data.index.class_names))
    weights = compute_class_weight("balanced", classes=classes, y=labels)
    fit_log.log_class_weights(data.index.class_names, weights)
    return dict(zip(classes.tolist(), weights.tolist(), strict=True))


def optimizer(cfg: DictConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """``trainer.optimizer``, its learning rate on ``trainer.lr_schedule``. Hydra reads
    ``learning_rate=0`` or ``=1`` as an int, which Keras refuses ("should be float"): a
    whole-number rate is passed as the float it means. Named after its class: Keras numbers each
    one a process makes (``adam_3`` for a sweep's second job), and MLflow logs the name as a param."""
    rate = cfg.optimizer.get("learning_rate")
    changed = {"learning_rate": float(rate)} if isinstance(rate, int) and not isinstance(rate, bool) else {}
    if "name" not in cfg.optimizer:
        changed["name"] = cfg.optimizer._target_.rsplit(".", 1)[-1].lower()
    if cfg.lr_schedule == Schedule.cosine:
        warmup = cfg.warmup_epochs * steps_per_epoch
        peak = float(rate)
        changed["learning_rate"] = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup else peak,
            decay_steps=(cfg.epochs - cfg.warmup_epochs) * steps_per_epoch,
            warmup_target=peak if warmup else None,
            warmup_steps=warmup,
        )
    return build(cfg.optimizer, "trainer.optimizer", **changed)


def try_optimizer(trainer: DictConfig) -> None:
    """One step of ``trainer.optimizer`` on a throwaway weight, before the run is made and the files
    decoded: a value of the wrong type (``+trainer.optimizer.beta_1=abc``) fails only in a step,
    which would be a traceback from inside ``model.fit``."""
    test = optimizer(trainer, steps_per_epoch=1)  # a bad combination fails here, as Keras says
    try:
        test.apply_gradients([(keras.ops.ones(1), keras.Variable(np.zeros(1, np.float32)))])
    except (TypeError, ValueError, tf.errors.OpError) as err:
        given = ", ".join(f"{key}={value}" for key, value in trainer.optimizer.items() if key != "_target_")
        said = keras_said(err).rstrip(".")
        raise RunnerError(
            f"trainer.optimizer ({type(test).__name__}): its first step fails: {said}. A value of the "
            f"wrong type? This run gives it {given}."
        ) from err


def warn_if_average_lags(settings: DictConfig, steps: int) -> None:
    """``use_ema``: Keras's moving average starts at the weights after the first update, with no
    correction for it, so after n updates at momentum m they still make m**(n-1) of it (0.99 over
    digits' 135 steps: 26%), and the final model is partly an untrained one. Said as the run
    starts, with the momentum that leaves 1% (``steps``: the run's batches; with gradient
    accumulation, one update per that many)."""
    if not settings.get("use_ema"):
        return
    momentum = float(settings.get("ema_momentum", 0.99))  # Keras's default, every optimizer's
    updates = max(1, steps // int(settings.get("gradient_accumulation_steps") or 1))
    left = momentum ** (updates - 1)
    if left > 0.05:
        suggested = math.floor(100 * 0.01 ** (1 / max(1, updates - 1))) / 100
        log.warning(
            "trainer.optimizer.use_ema=true: the average of this run's %d updates at ema_momentum=%g "
            "still holds %.0f%% of the weights after its first (Keras's average starts there), so "
            "its final model is partly untrained. Lower it (+trainer.optimizer.ema_momentum=%g "
            "leaves under 1%%) or train longer",
            updates,
            momentum,
            100 * left,
            suggested,
        )


def warn_if_emulated(precision: Precision, cpuinfo: Path = Path("/proc/cpuinfo")) -> None:
    """``mixed_float16`` with no GPU, on a CPU without float16 arithmetic (AVX512_FP16, AMX-FP16):
    TensorFlow emulates it, ~4× slower than float32, and says only that oneDNN lacks it."""
    if precision != Precision.mixed_float16 or tf.config.list_physical_devices("GPU"):
        return
    _, flags = cpus.model_and_flags(cpuinfo)
    if flags.isdisjoint({"avx512_fp16", "amx_fp16"}):
        bf16 = not flags.isdisjoint({"avx512_bf16", "amx_bf16"})
        log.warning(
            "trainer.precision=mixed_float16: no GPU here, and this CPU has no float16 arithmetic, "
            "so it is emulated: slower than float32 (small_cnn at 96², batch 32: 321 against 75 ms "
            "a step). Use trainer.precision=float32%s.",
            ", or mixed_bfloat16, which this CPU computes natively (40 ms)" if bf16 else "",
        )


@contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Keras's global dtype policy while the model is built (its layers keep it); the augmentation
    layers, built before, and the next job of a sweep, in the same process, keep float32."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
