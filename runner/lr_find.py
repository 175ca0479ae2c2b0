"""``python -m runner.lr_find [OVERRIDES]``: which learning rate to train with, from a
learning-rate range test; writes the loss against the rate.

The run's model trains for up to ``--steps`` batches at rates growing geometrically from
``--start`` to ``--end`` (Smith 2015; fastai's and Lightning's ``lr_find``). The rate where the
loss falls fastest is the suggestion: lower rates learn slowly, higher ones soon make the loss
climb (the test stops once it is 4 times its lowest). The model, data, augmentation and optimizer
are the run's, composed as ``python -m runner`` composes them (the optimizer's other arguments
kept; no schedule). A diagnostic, as ``runner.preview`` is: it writes a picture and a CSV, and
nothing to MLflow.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from runner.cli import described, options_then_overrides, png_file, positive_int
from runner.errors import RunnerError
from runner.words import shell_join

# Of the loss's exponential moving average: one batch's loss is noisy. fastai's and Lightning's 0.98
# averages ~50 batches, half the test's 8 decades of rates at 100 steps, and so lags the loss by
# decades; this averages ~5, and the curve drawn and read runs it both ways (``curve``), which lags none.
SMOOTHING = 0.8
DIVERGED = 4.0  # the test stops once the smoothed loss is this many times its lowest
MIN_STEPS = 10  # fewer rates than this over 8 decades say nothing of where the loss falls


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runner.lr_find", description=described(__doc__))
    parser.add_argument("--steps", type=positive_int, default=100, help="batches at most, one rate each")
    parser.add_argument("--start", type=float, default=1e-7, help="the first rate")
    parser.add_argument("--end", type=float, default=10.0, help="the last rate")
    parser.add_argument(
        "--out", type=png_file, default="lr_find.png", help="PNG file to write (and a CSV beside it)"
    )
    args, overrides = options_then_overrides(parser, argv)
    if args.steps < MIN_STEPS:
        parser.error(
            f"--steps {args.steps}: a range test needs {MIN_STEPS} batches at least, e.g. --steps 100"
        )
    if not 0 < args.start < args.end:
        parser.error(
            f"--start {args.start} --end {args.end}: need 0 < start < end, e.g. --start 1e-7 --end 10"
        )
    from runner.__main__ import expand_home, reported

    reported(find, args, expand_home(overrides), trains=False)


def find(args: argparse.Namespace, overrides: list[str]) -> None:
    """What ``train`` refuses without TensorFlow first (the config, the files, their labels, room
    for their cache), then the test."""
    from runner.checks import check_config
    from runner.config import compose
    from runner.train import indexed

    cfg = compose(overrides)
    check_config(cfg)
    index = indexed(cfg)
    rates = np.geomspace(args.start, args.end, args.steps)
    losses = losses_at(cfg, index, rates)
    smooth = curve(losses)
    best = suggestion(rates[: len(losses)], smooth)
    write(Path(args.out), rates[: len(losses)], losses, smooth, best)
    if best is None:
        raise RunnerError(
            f"runner.lr_find: the loss did not fall at any rate from {rates[0]:.1e} (it rose from the "
            f"start; {args.out} shows it). Lower --start, or check the data: a loss that never falls "
            f"learns nothing."
        )
    stopped = "its loss diverged" if len(losses) < len(rates) or not np.isfinite(losses[-1]) else "--end"
    again = shell_join(
        ["python", "-m", "runner", *overrides, f"trainer.optimizer.learning_rate={rates[best]:.1e}"]
    )
    print(
        f"runner.lr_find: {len(losses)} batches at rates {rates[0]:.1e} to {rates[len(losses) - 1]:.1e} "
        f"(stopped at {stopped}); the loss fell fastest at {rates[best]:.1e}: {again}\n"
        f"wrote {args.out} and {Path(args.out).with_suffix('.csv')}",
        file=sys.stderr,
    )


def losses_at(cfg: DictConfig, index: object, rates: np.ndarray) -> np.ndarray:
    """Each batch's loss, the ``i``-th trained at ``rates[i]``, until the smoothed loss passes
    ``DIVERGED`` times its lowest (or is no number)."""
    import keras

    from runner import augment, pipeline
    from runner.fit import ready
    from runner.targets import build

    model, objective, pipeline_aug, _ = ready(cfg, index)
    augmented = augment.apply(pipeline_aug) if pipeline_aug else None
    # One batch at least per epoch: as many epochs as rates is enough batches, built lazily.
    data = pipeline.build(
        cfg.data, index, cfg.trainer.seed, augmented, range(len(rates)), cfg.trainer.deterministic
    )
    first = build(cfg.trainer.optimizer, "trainer.optimizer", learning_rate=float(rates[0]))
    model.compile(optimizer=first, loss=objective)
    losses: list[float] = []

    class RateRange(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            self.model.optimizer.learning_rate = float(rates[batch])

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            mean = float((logs or {})["loss"])  # Keras 3 logs the epoch's mean so far: this batch's is
            losses.append(mean * (batch + 1) - sum(losses))  # what it adds to the sum
            smooth = smoothed(np.array(losses))
            if not math.isfinite(losses[-1]) or smooth[-1] > DIVERGED * smooth.min():
                self.model.stop_training = True

    callbacks = [RateRange()]  # data.train has its own order: no shuffle, nor Keras's warning about one
    model.fit(data.train, epochs=1, steps_per_epoch=len(rates), shuffle=False, callbacks=callbacks, verbose=0)
    return np.array(losses)


def smoothed(losses: np.ndarray) -> np.ndarray:
    """The exponential moving average of ``losses``, without its bias towards 0 at the start."""
    average, out = 0.0, np.empty(len(losses))
    for i, value in enumerate(losses):
        average = SMOOTHING * average + (1 - SMOOTHING) * value
        out[i] = average / (1 - SMOOTHING ** (i + 1))
    return out


def curve(losses: np.ndarray) -> np.ndarray:
    """The loss drawn and read: smoothed both ways up to where its running average is lowest,
    forwards only past it, where the rates only make it climb (a spike there, averaged backwards,
    would lift the fall before it: 30 steps on digits read no fall at all)."""
    forward = smoothed(losses)
    lowest = int(np.nanargmin(forward))
    return np.concatenate([smoothed(smoothed(losses[: lowest + 1])[::-1])[::-1], forward[lowest + 1 :]])


def suggestion(rates: np.ndarray, smooth: np.ndarray) -> int | None:
    """Where the smoothed loss falls fastest against the log of the rate, before its lowest point;
    None if it never fell."""
    lowest = int(np.nanargmin(smooth))
    if lowest < 2:
        return None
    slope = np.gradient(smooth[: lowest + 1], np.log(rates[: lowest + 1]))
    return int(np.argmin(slope))


def write(out: Path, rates: np.ndarray, losses: np.ndarray, smooth: np.ndarray, best: int | None) -> None:
    """``out`` (the loss against the rate, the suggestion marked) and the CSV beside it."""
    from matplotlib.figure import Figure

    from runner.record import csv_text

    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.subplots()
    axes.plot(rates, losses, color="lightgrey", linewidth=1, label="each batch")
    axes.plot(rates, smooth, label="smoothed")
    if best is not None:
        axes.axvline(rates[best], color="grey", linestyle="--", label=f"fastest fall: {rates[best]:.1e}")
    axes.set(xscale="log", xlabel="learning rate", ylabel="loss", ylim=(None, DIVERGED * np.nanmin(smooth)))
    axes.legend()
    rows = ([f"{r:.6g}", f"{loss:.6g}", f"{s:.6g}"] for r, loss, s in zip(rates, losses, smooth, strict=True))
    try:
        figure.savefig(out)
        out.with_suffix(".csv").write_text(csv_text(["learning_rate", "loss", "smoothed"], rows))
    except OSError as err:
        raise RunnerError(
            f"--out {out}: cannot write it ({err.strerror or err}); give a writable path."
        ) from err


if __name__ == "__main__":
    from runner.__main__ import run_command

    run_command(main)
