"""``fit(cfg, index, ...)``: the files -> pipeline -> model -> ``model.fit`` -> tracking, for a run
``runner.train`` has accepted; returns the monitored metric. Everything TensorFlow does lives here
and in what it calls (``trainer``: the loss, metrics and optimizer). The model is built first,
before the run and the decode, as what only building it tells is a configuration error too; the
pipeline then feeds it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers
from omegaconf import DictConfig

from runner import augment, fit_log, pipeline, preview, record, tracking
from runner.backup import Backup
from runner.calibration import calibration, log_calibration, no_temperature, scaled, temperature_of
from runner.callbacks import callbacks, interrupts_between_batches
from runner.config_errors import PASSED_TO_MODELS
from runner.decode import Decoder
from runner.schemas.data import LabelMode
from runner.scores import THRESHOLD, log_evaluation, log_mistakes, log_regression, log_thresholds
from runner.sources import FileIndex
from runner.split import split_of
from runner.targets import build, check
from runner.trainer import (
    class_weights,
    dtype_policy,
    fit_metrics,
    loss,
    optimizer,
    seed_everything,
    try_optimizer,
    warn_if_average_lags,
    warn_if_emulated,
)
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


def ready(cfg: DictConfig, index: FileIndex) -> tuple[keras.Model, keras.losses.Loss, list, list]:
    """The model, its loss and the augmentation by where it runs (pipeline, model), each tried
    first, before a run is made and the files decoded: what Keras's names, a first optimizer step
    or a blank batch refuse is a line. Seeds everything from ``trainer.seed``."""
    objective = loss(cfg.trainer, cfg.data.label_mode, len(index.class_names))
    seed_everything(cfg.trainer.seed, cfg.trainer.deterministic)
    pipeline_aug, model_aug = augment.split_by_placement(cfg.aug, cfg.trainer.seed, cfg.data.label_mode)
    check(cfg.model, "model", given=MODEL_ARGS)
    check(cfg.trainer.optimizer, "trainer.optimizer")
    try_optimizer(cfg.trainer)
    augment.try_on(pipeline_aug, model_aug, Decoder.of(cfg.data).shape, len(index.class_names))
    return build_model(cfg, index, model_aug), objective, pipeline_aug, model_aug


def fit(cfg: DictConfig, index: FileIndex, output_dir: Path, overrides: list[str], attempt: int) -> float:
    """Train on ``index`` and record it all in MLflow (run ``tracking.resume``'s ``attempt``-th
    resume when it is > 0); outputs go to ``output_dir``, and ``overrides`` make the command line."""
    seed = cfg.trainer.seed
    model, objective, pipeline_aug, model_aug = ready(cfg, index)
    with tracking.run(cfg, output_dir, overrides, attempt) as run_id:
        # A resumed run's batches begin at its epoch; one that had run all its epochs fits none,
        # and keeps the last epoch's batches for the model's input example.
        resumed = Backup.resumed_epoch(output_dir / "backup")
        epochs = range(min(resumed, cfg.trainer.epochs - 1), cfg.trainer.epochs)
        pipeline_augment = augment.apply(pipeline_aug) if pipeline_aug else None
        data = pipeline.build(cfg.data, index, seed, pipeline_augment, epochs, cfg.trainer.deterministic)
        check_validation(cfg.trainer.monitor, data.split)  # files that failed are left out now
        warn_if_average_lags(cfg.trainer.optimizer, cfg.trainer.epochs * data.steps)
        if pipeline_aug or model_aug:
            images, labels, _ = preview.sample(cfg.data, data.index, rows=6)  # each decodes: cached
            preview_grid = preview.grid(
                images, labels, data.index.class_names, pipeline_aug + model_aug, draws=5
            )
            fit_log.log_preview(preview_grid)
        record.log_data(data, output_dir)
        fit_log.log_architecture(model)
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
        metrics = {name: values[-1] for name, values in history.history.items()} or fit_log.last_metrics()
        if data.val is not None:
            metrics.update(evaluate(model, data, "val"))
        if data.test is not None:  # held out: reported, never monitored or swept on
            metrics.update(evaluate(model, data, "test"))
        if cfg.tracking.log_model:
            fit_log.log_model(model, next(iter(data.train))[0].numpy()[:4], cfg.tracking.register_as)
        result = float(metrics[cfg.trainer.monitor])
        tracking.report(cfg, run_id, result, output_dir / "checkpoints" / "best.json")
    return result


def evaluate(model: keras.Model, data: pipeline.Data, part: str) -> dict[str, float]:
    """Metrics of the final model (best weights if early stopping restored them) on the ``val`` or
    ``test`` images, logged as ``final_<part>_*``, with their confusion matrix and per-class scores,
    and for one class per image their calibration (a regression's: R², and its predictions against
    the truth)."""
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
        metrics[f"{part}_ece"] = log_calibration(confidence, truth == predicted, prefix)
        temperature = temperature_of(probabilities, truth) if part == "val" else None
        if temperature is not None:  # the one that calibrates it here, for predict --calibrated
            metrics["val_temperature"] = temperature
            at_it = scaled(probabilities, temperature).max(axis=1)
            metrics["val_ece_calibrated"] = calibration(at_it, truth == predicted)[1]
        elif part == "val":
            log.warning(
                "no temperature calibrates the validation images' probabilities (%s): none logged, "
                "and predict --calibrated is refused for this run",
                no_temperature(probabilities, truth),
            )
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
    fit_log.log_final(metrics)
    return metrics


def rows_of(batches: tf.data.Dataset, positions: np.ndarray) -> np.ndarray:
    """The images at ``positions`` of unshuffled ``batches``, as the model saw them."""
    wanted, found, start = set(positions.tolist()), {}, 0
    for images, _ in batches:
        for p in wanted & set(range(start, start + len(images))):
            found[p] = images[p - start].numpy()
        start += len(images)
    return np.stack([found[p] for p in positions.tolist()])
