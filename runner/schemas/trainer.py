"""``trainer``: how ``runner.fit`` trains (``runner.trainer`` builds its parts): epochs, seed,
optimizer, schedule, precision."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Schedule(Enum):
    """How the learning rate moves over a run. A resumed run follows it exactly: constant and
    cosine are functions of the step count, which Keras's backup restores; plateau's counters are
    saved beside that backup (``callbacks.ResumablePlateau``)."""

    constant = "constant"  # trainer.optimizer.learning_rate throughout
    cosine = "cosine"  # linear warm-up over trainer.warmup_epochs, then cosine decay to 0 at the end
    # times trainer.plateau_factor after trainer.plateau_patience epochs without a better monitor
    plateau = "plateau"


class Precision(Enum):
    """Keras's dtype policy for the model: mixed policies compute in 16 bits (faster on GPUs with
    tensor cores, and CPUs with AMX for bfloat16) and keep the weights and the output in float32."""

    float32 = "float32"
    mixed_float16 = "mixed_float16"  # Keras scales the loss so small gradients survive float16
    mixed_bfloat16 = "mixed_bfloat16"


@dataclass
class TrainerConfig:
    epochs: int = 10
    seed: int = 42
    # Same seed + deterministic=true gives identical metrics run to run (slower kernels on GPU).
    deterministic: bool = True
    optimizer: Any = field(
        default_factory=lambda: {"_target_": "keras.optimizers.Adam", "learning_rate": 1e-3}
    )
    # null: the label mode's own (cross-entropy; a regression's mean squared error); or any class
    # in keras.losses with its arguments: 'trainer.loss={_target_: keras.losses.Huber, delta: 2.0}'.
    loss: Any = None
    precision: Precision = Precision.float32  # of the models built here; model=file keeps its own
    lr_schedule: Schedule = Schedule.constant
    warmup_epochs: int = 0  # cosine: epochs of linear warm-up from 0 to the optimizer's learning_rate
    plateau_patience: int = 2  # plateau: epochs without a better trainer.monitor before the rate drops
    plateau_factor: float = 0.5  # plateau: what the rate is multiplied by each time
    class_weight: str | None = None  # "balanced": weights from the training split's class counts
    # s: targets of 1 - s for the true class plus s / classes for each (0: none); one-hot or binary labels.
    label_smoothing: float = 0.0
    top_k: int | None = None  # also report top<k>_accuracy: the true class among the k likeliest
    monitor: str = "val_accuracy"
    early_stopping_patience: int | None = None
    verbose: int = 2
