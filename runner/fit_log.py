"""What ``fit`` logs into its MLflow run beside each epoch's metrics: the model's architecture and
weight counts, the class weights, the augmentation preview, the final metrics, and the model itself.

Each writes to the active run (``tracking.run`` started it), so ``fit`` calls them as it goes.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import mlflow
import numpy as np

from runner import provenance

log = logging.getLogger(__name__)


def last_metrics() -> dict[str, float]:
    """The active run's metrics as last logged."""
    return dict(mlflow.get_run(mlflow.active_run().info.run_id).data.metrics)


def log_final(metrics: dict[str, float]) -> None:
    """Metrics after training (best weights if early stopping restored them), as ``final_*``."""
    mlflow.log_metrics({f"final_{name}": value for name, value in metrics.items()})


def log_preview(grid: Any) -> None:
    """The augmentation preview (a PIL image), so a person can see what training saw."""
    mlflow.log_image(grid, "aug/preview.png")


def log_architecture(model: Any) -> None:
    """``model_summary.txt`` (Keras's summary: each layer, its output shape and weights) and the
    weight counts as params (``model_parameters``, ``model_trainable_parameters``): what the runs
    of a sweep over widths or backbones are compared by beside their scores."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, *_, **__: lines.append(line))
    mlflow.log_text("\n".join(lines), "model_summary.txt")
    trainable = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)
    counts = {"model_parameters": model.count_params(), "model_trainable_parameters": trainable}
    mlflow.log_params(counts)
    log.info(
        "model %s: %s parameters, %s of them trained",
        model.name,
        f"{counts['model_parameters']:,}",
        f"{trainable:,}",
    )


def log_class_weights(class_names: list[str], weights: np.ndarray) -> None:
    """``trainer.class_weight.<class>`` params. MLflow refuses a key with characters other than
    letters, digits and ``_-. :/`` (a folder "cat (wild)" stopped the run): those become ``_``,
    and the class's number is added (``cat _wild_:0``), so two such names stay two keys."""
    keys = [n if key_safe(n) == n else f"{key_safe(n)}:{i}" for i, n in enumerate(class_names)]
    mlflow.log_params(
        {f"trainer.class_weight.{k}": round(float(w), 4) for k, w in zip(keys, weights, strict=True)}
    )


def key_safe(name: str) -> str:
    return re.sub(r"[^\w\-. :/]", "_", name)


# What serving the model needs, pinned to the installed versions. MLflow's default would find the
# same list by loading the model in a subprocess: 7 s at the end of every run.
MODEL_REQUIREMENTS = ("mlflow", "keras", "numpy", "tensorflow", "tensorflow-cpu")


def log_model(model: Any, sample: np.ndarray, register_as: str | None) -> None:
    """The Keras flavor: ``mlflow.keras.load_model(f'runs:/{id}/model')`` gets it back; with
    ``register_as``, also the next version of that registered model."""
    import mlflow.keras
    from mlflow.models import infer_signature

    # A direct call: ``predict`` would build a tf.data pipeline for four images.
    signature = infer_signature(sample, np.asarray(model(sample, training=False)))
    requirements = [
        f"{name}=={version}" for name, version in provenance.installed_versions(MODEL_REQUIREMENTS).items()
    ]
    logged = mlflow.keras.log_model(
        model,
        name="model",
        signature=signature,
        pip_requirements=requirements,
        registered_model_name=register_as,
    )
    if register_as:
        log.info("registered as models:/%s/%s", register_as, logged.registered_model_version)
