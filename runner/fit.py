"""``fit(cfg, index, ...)``: the files -> pipeline -> model -> ``model.fit`` -> tracking, for a run
``runner.train`` has accepted; returns the monitored metric. Everything TensorFlow does lives here.
The model is built first, before the run and the decode, as what only building it tells is a
configuration error too; the pipeline then feeds it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers
from omegaconf import DictConfig
from sklearn.utils.class_weight import compute_class_weight

from runner import augment, cpus, pipeline, preview, record, tracking
from runner.backup import Backup
from runner.callbacks import callbacks, interrupts_between_batches
from runner.decode import Decoder
from runner.errors import PASSED_TO_MODELS, RunnerError, keras_said
from runner.schemas.data import LabelMode
from runner.schemas.trainer import Precision, Schedule
from runner.scores import THRESHOLD, log_evaluation, log_mistakes, log_regression, log_thresholds
from runner.sources import FileIndex
from runner.split import split_of
from runner.targets import build, check
from runner.trainer_checks import check_validation

log = logging.getLogger(__name__)
MODEL_ARGS = set(PASSED_TO_MODELS)  # what ``fit`` passes every model builder
# The output layer's activation for a label mode (``models.head``); others: softmax, or a sigmoid unit.
OUTPUTS = {LabelMode.multi_hot: "sigmoid", LabelMode.regression: "linear"}
SAVED = "runner.models.saved"  # model=file's builder


def not_retracing(record: logging.LogRecord) -> bool:
    """All but TensorFlow's warning that a ``tf.function`` was traced again ("5 out of the last 5
    calls to ... make_predict_function ..."): a sweep's jobs in one process each build their own
    model, whose predict and test functions Keras traces anew, by design. Ten lines of advice on
    retracing, from the fifth job on, would be noise."""
    return "triggered tf.function retracing" not in record.getMessage()


logging.getLogger("tensorflow").addFilter(not_retracing)


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


def loss(label_mode: LabelMode, smoothing: float) -> keras.losses.Loss:
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
        return None
    labels = data.index.labels[data.split == "train"]
    classes = np.arange(len(data.index.class_names))
    weights = compute_class_weight("balanced", classes=classes, y=labels)
    tracking.log_class_weights(data.index.class_names, weights)
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


def build_model(cfg: DictConfig, index: FileIndex, augmentation: list) -> keras.Model:
    """``cfg.model`` for ``index``'s classes, before the run is made and the files decoded: what
    only building it tells (a backbone's minimum input size, ImageNet weights that cannot
    download, a saved model that does not load) is a line within seconds. Its initial weights
    come from ``trainer.seed`` alone: what ran since the seed was set may have drawn from the
    global generators, and a run's metrics must not depend on that."""
    keras.utils.set_random_seed(cfg.trainer.seed)
    mode = cfg.data.label_mode
    warn_if_emulated(cfg.trainer.precision)
    with dtype_policy(cfg.trainer.precision.value):
        model = build(
            cfg.model,
            "model",
            input_shape=Decoder.of(cfg.data).shape,
            num_classes=1 if mode in (LabelMode.binary, LabelMode.regression) else len(index.class_names),
            augmentation=augmentation,
            output=OUTPUTS.get(mode),
        )
    if mode != LabelMode.regression or cfg.model._target_ == SAVED:  # a saved one gives its own units
        return model
    return in_units(model, index.numbers[split_of(cfg.data, index, cfg.trainer.seed) == "train"])


def in_units(model: keras.Model, numbers: np.ndarray) -> keras.Model:
    """A regression's model with its output scaled to the training images' numbers (their mean
    and standard deviation): the layers learn numbers of mean 0 and spread 1, the scale Keras's
    initialisers are made for (numbers 34-58, 8 epochs of small_cnn: a validation MAE of 0.33
    with the scale, 1.86 learnt from 0), and the saved model gives the numbers' own unit."""
    mean, std = float(numbers.mean()), float(numbers.std())
    scale = layers.Rescaling(std, offset=mean, name="in_units", dtype="float32")
    return keras.Model(model.inputs[0], scale(model.outputs[0]), name=model.name)


def fit(cfg: DictConfig, index: FileIndex, output_dir: Path, overrides: list[str], attempt: int) -> float:
    """Train on ``index`` and record it all in MLflow (run ``tracking.resume``'s ``attempt``-th
    resume when it is > 0); outputs go to ``output_dir``, and ``overrides`` make the command line."""
    seed = cfg.trainer.seed
    objective = loss(cfg.data.label_mode, cfg.trainer.label_smoothing)
    seed_everything(seed, cfg.trainer.deterministic)
    pipeline_aug, model_aug = augment.split_by_placement(cfg.aug, seed, cfg.data.label_mode)
    check(cfg.model, "model", given=MODEL_ARGS)  # before the run: what Keras's names refuse
    check(cfg.trainer.optimizer, "trainer.optimizer")
    try_optimizer(cfg.trainer)
    augment.try_on(pipeline_aug, model_aug, Decoder.of(cfg.data).shape, len(index.class_names))
    model = build_model(cfg, index, model_aug)
    with tracking.run(cfg, output_dir, overrides, attempt) as run_id:
        # A resumed run's batches begin at its epoch; one that had run all its epochs fits none,
        # and keeps the last epoch's batches for the model's input example.
        resumed = Backup.resumed_epoch(output_dir / "backup")
        epochs = range(min(resumed, cfg.trainer.epochs - 1), cfg.trainer.epochs)
        pipeline_augment = augment.apply(pipeline_aug) if pipeline_aug else None
        data = pipeline.build(cfg.data, index, seed, pipeline_augment, epochs, cfg.trainer.deterministic)
        check_validation(cfg.trainer.monitor, data.split)  # files that failed are left out now
        if pipeline_aug or model_aug:
            images, labels = preview.sample(cfg.data, data.index, rows=6)
            preview_grid = preview.grid(
                images, labels, data.index.class_names, pipeline_aug + model_aug, draws=5
            )
            tracking.log_preview(preview_grid)
        record.log_data(data, output_dir)
        tracking.log_architecture(model)
        model.compile(
            optimizer=optimizer(cfg.trainer, data.steps),
            loss=objective,
            metrics=fit_metrics(cfg.data.label_mode, cfg.trainer.top_k),
        )
        with interrupts_between_batches() as stop:
            history = model.fit(
                data.train,
                validation_data=data.val,
                epochs=cfg.trainer.epochs,
                steps_per_epoch=data.steps,  # data.train holds all the epochs, each in its order
                shuffle=False,  # the order is data.train's own
                callbacks=[*callbacks(cfg.trainer, output_dir), stop],
                class_weight=class_weights(cfg.trainer.class_weight, data),
                verbose=cfg.trainer.verbose,
            )
        # Empty when a resumed run had finished its last epoch: then what that epoch logged.
        metrics = {name: values[-1] for name, values in history.history.items()} or tracking.last_metrics()
        if data.val is not None:
            metrics.update(evaluate(model, data, "val"))
        if data.test is not None:  # held out: reported, never monitored or swept on
            metrics.update(evaluate(model, data, "test"))
        if cfg.tracking.log_model:
            tracking.log_model(model, next(iter(data.train))[0].numpy()[:4], cfg.tracking.register_as)
        result = float(metrics[cfg.trainer.monitor])
        tracking.report(cfg, run_id, result, output_dir / "checkpoints" / "best.json")
    return result


def evaluate(model: keras.Model, data: pipeline.Data, part: str) -> dict[str, float]:
    """Metrics of the final model (best weights if early stopping restored them) on the ``val`` or
    ``test`` images, logged as ``final_<part>_*``, with their confusion matrix and per-class scores
    (a regression's: R², and its predictions against the truth)."""
    images = data.val if part == "val" else data.test
    results = model.evaluate(images, return_dict=True, verbose=0)
    probabilities = model.predict(images, verbose=0)
    positions = np.flatnonzero(data.split == part)
    metrics = {f"{part}_{name}": float(value) for name, value in results.items()}
    prefix = "" if part == "val" else f"{part}_"
    if data.index.numbers is not None:  # a number each: how far off, and the furthest off
        truth, predicted = data.index.numbers[positions], probabilities[:, 0]
        metrics[f"{part}_r2"] = log_regression(truth, predicted, prefix)
        confidence = np.abs(predicted - truth)
    elif data.index.multi is not None:  # each class a yes at THRESHOLD; the surest wrong one ranks a mistake
        truth = data.index.multi[positions]
        predicted = (probabilities >= THRESHOLD).astype(truth.dtype)
        confidence = np.abs(probabilities - truth).max(axis=1)
        if part == "val":  # each class's own threshold, tuned here, for predict and the export
            metrics["val_macro_f1_tuned"] = log_thresholds(data.index.class_names, truth, probabilities)
    else:
        if probabilities.shape[1] == 1:  # binary: one sigmoid output
            probabilities = np.concatenate([1 - probabilities, probabilities], axis=1)
        truth, predicted = data.index.labels[positions], np.argmax(probabilities, axis=1)
        confidence = probabilities.max(axis=1)
    names = data.index.class_names
    if data.index.numbers is None:
        metrics[f"{part}_macro_f1"] = log_evaluation(names, truth, predicted, prefix)
    paths = [data.index.paths[i] for i in positions]
    log_mistakes(
        names,
        truth,
        predicted,
        confidence,
        paths,
        lambda shown: rows_of(images, shown),
        prefix,
    )
    tracking.log_final(metrics)
    return metrics


def rows_of(batches: tf.data.Dataset, positions: np.ndarray) -> np.ndarray:
    """The images at ``positions`` of unshuffled ``batches``, as the model saw them."""
    wanted, found, start = set(positions.tolist()), {}, 0
    for images, _ in batches:
        for p in wanted & set(range(start, start + len(images))):
            found[p] = images[p - start].numpy()
        start += len(images)
    return np.stack([found[p] for p in positions.tolist()])
