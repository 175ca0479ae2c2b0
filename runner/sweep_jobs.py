"""A sweep's job runs told apart and ranked: which job a run is (its number in the sweep, and the
overrides the sweep chose for it), and the ranking by ``trainer.monitor`` that ``sweep/summary.csv``
and the console give, with the finished jobs' mean and spread. Used by the sweep's run
(``runner/sweep.py``) and by a continued sweep (``runner/sweep_resume.py``).
"""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser

from runner.trainer_checks import lower_is_better
from runner.words import counted

# A job run's number in its sweep, as Hydra's "Launching" lines number it: two jobs may have the
# same overrides (an Optuna study can draw the same values twice), never the same number.
JOB_TAG = "runner.sweep_job"


def fixed_keys(overrides: list[str]) -> set[str]:
    """The keys a sweep's overrides set to one value: the same in every job."""
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:  # noqa: BLE001 - a command recorded by another Hydra: every key tells jobs apart
        return set()
    return {o.key_or_group for o in parsed if not o.is_sweep_override()}


def job_of(job: list[str] | Any, fixed: set[str]) -> list[str]:
    """What tells a job (its overrides, or its run's) from the sweep's others: its overrides less
    those of ``fixed`` keys and the ``tracking.resume`` of a resumed sweep."""
    if not isinstance(job, list):
        job = json.loads(job.data.tags.get("runner.overrides", "[]"))
    return [o for o in without_resume(job) if key_of(o) not in fixed]


def without_resume(overrides: list[str]) -> list[str]:
    """Overrides less a resumed sweep's ``tracking.resume``: what its jobs' runs record as theirs."""
    return [o for o in overrides if not o.startswith("tracking.resume=")]


def key_of(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def ranked(jobs: list, monitor: str, fixed: set[str]) -> list[list]:
    """[rank, value, status, run id, the overrides the sweep chose for it] per job run: finished
    runs first, best first (a loss or an error: lowest), then the others, which may hold the value
    of their last epoch. A tie (two jobs at val_accuracy 1.0 on a small validation set) goes to the
    lower loss on the same images, then to the earlier job, as a checkpoint keeps the first best."""
    lowest = lower_is_better(monitor)
    overrides = [job_of(job, fixed) for job in jobs]
    values = [result_of(job, monitor) for job in jobs]
    loss = None if lowest else ("val_loss" if monitor.startswith("val_") else "loss")
    order = sorted(
        range(len(jobs)),
        key=lambda i: (
            jobs[i].info.status != "FINISHED",
            values[i] is None,
            (1 if lowest else -1) * (values[i] or 0.0),
            tie_loss(jobs[i], loss),
            int(jobs[i].data.tags.get(JOB_TAG, "0")),
            jobs[i].info.start_time or 0,
        ),
    )
    return [
        [
            rank + 1,
            "" if values[i] is None else values[i],
            jobs[i].info.status,
            jobs[i].info.run_id,
            " ".join(overrides[i]),
        ]
        for rank, i in enumerate(order)
    ]


def superseded_left_out(jobs: list, fixed: set[str]) -> list:
    """The job runs less the superseded refusals: a job refused before its run started (``FAILED``
    with no output folder: ``record_refusal``), then refused or run again by a resumed sweep, is
    ranked by its latest run alone."""

    def refused(job: Any) -> bool:
        return job.info.status == "FAILED" and "runner.output_dir" not in job.data.tags

    def key(job: Any) -> str:
        return json.dumps([job.data.tags.get(JOB_TAG), *job_of(job, fixed)])

    ran = {key(job) for job in jobs if not refused(job)}
    refusals = sorted(filter(refused, jobs), key=lambda job: job.info.start_time)
    latest = {key(job): job for job in refusals if key(job) not in ran}  # the last one stays
    return [job for job in jobs if not refused(job) or latest.get(key(job)) is job]


def tie_loss(run: Any, loss: str | None) -> float:
    """A job's loss that breaks a tie on its monitor (none where the monitor is a loss itself)."""
    value = result_of(run, loss) if loss else None
    return math.inf if value is None else value


def result_of(run: Any, monitor: str) -> float | None:
    """What ``train`` returned for a job run: the final model's value for ``val_*``, or the last epoch's."""
    return run.data.metrics.get(f"final_{monitor}", run.data.metrics.get(monitor))


def mean_and_std(rows: list[list]) -> tuple[float, float] | None:
    """The mean and (population) standard deviation of the finished jobs' values, if two or more."""
    values = [value for _, value, status, *_ in rows if status == "FINISHED" and value != ""]
    return (statistics.fmean(values), statistics.pstdev(values)) if len(values) > 1 else None


def summary(parent: str, rows: list[list], monitor: str, spread: tuple[float, float] | None) -> str:
    """The console's ranking: one line per job run, best first, then the mean and spread."""
    runs = counted(len(rows), "job run")
    lines = [f"runner: sweep run {parent}: {runs}, by {monitor} (sweep/summary.csv):"]
    for rank, value, status, run_id, overrides in rows:
        shown = status if value == "" else f"{value:.4f}" + ("" if status == "FINISHED" else f" ({status})")
        lines.append(f"  {rank}. {shown}  {overrides}  run {run_id}")
    if spread:
        lines.append(f"  mean {spread[0]:.4f}, std {spread[1]:.4f} (mean_{monitor}, std_{monitor})")
    return "\n".join(lines)
