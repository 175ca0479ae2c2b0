"""A sweep continued: ``python -m runner -m <the sweep's overrides> tracking.resume=SWEEP_RUN``.

The sweep's run is taken up again (``reopened``), and each job finds the run it had under it by
the overrides that the sweep's command varies (``earlier_run``): a finished one is not run again,
its result returned as ``train`` returned it (so Optuna's seeded sampler, given the same results,
proposes the same next trials); an unfinished one is resumed in its run, as ``runner.rerun
--resume`` would; a job that never started, or was refused before its run, runs now. A value the
command fixes (``trainer.epochs``) must be the one each finished job ran with, and its files the
ones it trained on.
"""

from __future__ import annotations

import logging
import os
import shlex
from contextlib import ExitStack
from typing import Any

from omegaconf import DictConfig

from runner.errors import RunnerError
from runner.sources import FileIndex
from runner.sweep import PARENT, jobs_under
from runner.sweep_jobs import JOB_TAG, fixed_keys, job_of, result_of

log = logging.getLogger(__name__)


def reopened(reference: str, experiment_id: str, claim: ExitStack) -> str:
    """Sweep run ``reference`` (its id or name), running again in this process, which holds it in
    ``claim`` until the sweep ends: refused if it is no sweep's, in another experiment, still
    running, or continued by another process of this machine now."""
    import mlflow

    from runner import liveness
    from runner.stored import find_run

    client = mlflow.MlflowClient()
    run_id = find_run(client, reference).info.run_id
    claim.enter_context(liveness.resuming(run_id))  # before its state is read: one at a time
    run = client.get_run(run_id)
    if "runner.sweep_dir" not in run.data.tags:
        raise RunnerError(
            f"tracking.resume={reference}: run {run_id} is no sweep's run; with -m, tracking.resume "
            f"continues a sweep. Resume that run alone: python -m runner.rerun {run_id} --resume"
        )
    if run.info.experiment_id != experiment_id:
        name = client.get_experiment(run.info.experiment_id).name
        raise RunnerError(
            f"tracking.resume={reference}: sweep run {run_id} is in MLflow experiment '{name}'; add "
            f"tracking.experiment={name} to continue it there."
        )
    if run.info.status == "RUNNING" and liveness.state(run) == liveness.State.alive:
        raise RunnerError(
            f"tracking.resume={reference}: sweep run {run_id} is still running, in process "
            f"{liveness.pid(run)} on this machine. Stop it (Ctrl-C, or kill {liveness.pid(run)}) first."
        )
    for key, value in liveness.process_tag().items():
        client.set_tag(run_id, key, value)
    client.update_run(run_id, status="RUNNING")
    return run_id


def resuming(tracking: DictConfig) -> bool:
    """Whether this is a job of a resumed sweep: in a sweep, ``tracking.resume`` can only name the
    sweep's run (``on_multirun_start`` refused any other)."""
    return tracking.resume is not None and PARENT in os.environ


def earlier_run(tracking: DictConfig, overrides: list[str], number: int) -> Any:
    """The run that job #``number`` of a resumed sweep had under it: the latest with its number and
    the overrides that the sweep's command varies (a run of an older runner has no number: its
    overrides alone) that started: one refused before it started (no output folder; a continue
    with other values makes one for each finished job) is passed over. None if it had none: it
    runs now. A value the command fixes is the config's to check, not a new job."""
    from runner.stored import client

    store = client(tracking.uri)
    parent = store.get_run(os.environ[PARENT])
    words = shlex.split(parent.data.tags.get("runner.command", ""))  # python -m runner[.rerun ID] -m ...
    fixed = fixed_keys(words[words.index("-m", 3) + 1 :] if "-m" in words[3:] else [])
    latest_first = jobs_under(store, parent.info.experiment_id, parent.info.run_id, newest_first=True)
    same = [
        run
        for run in latest_first
        if run.data.tags.get(JOB_TAG, str(number)) == str(number)
        and job_of(run, fixed) == job_of(overrides, fixed)
    ]
    started = [run for run in same if "runner.output_dir" in run.data.tags]
    return started[0] if started else None


def finished_result(run: Any, cfg: DictConfig, index: FileIndex) -> float:
    """The result of a finished job of a resumed sweep, as ``train`` returned it: the job is not
    run again, so its config must be the one its run had, and its files (``index``) the ones it
    trained on, or the sweep would rank jobs of two data sets against each other."""
    from runner.record import data_changes
    from runner.rerun import differences
    from runner.stored import client, fetch

    run_id = run.info.run_id
    store = client(cfg.tracking.uri)
    _, stored = fetch(store, run_id)
    if changed := differences(stored, cfg):
        raise RunnerError(
            f"run {run_id} finished this job with other values than it has now: "
            f"{'; '.join(changed[:3])}. A resumed sweep continues the same config; for these values, "
            f"start a new sweep (drop tracking.resume)."
        )
    if changed := data_changes(store, run_id, index):
        raise RunnerError(
            f"run {run_id} finished this job on other files than there are now: {'; '.join(changed)}. "
            f"A resumed sweep continues on the same files: restore them, or start a new sweep on "
            f"these (drop tracking.resume)."
        )
    value = result_of(run, cfg.trainer.monitor)
    log.info("run %s finished this job already (%s %.4f): not run again", run_id, cfg.trainer.monitor, value)
    return value
