"""A sweep (``python -m runner -m ...``, Optuna's too) as one MLflow run, its jobs' runs nested under it.

Hydra calls ``SweepRun`` (``hydra.callbacks.sweep`` in ``conf/config.yaml``) as a multirun starts
and ends. The parent run holds the sweep's command and folder and, once the jobs are done, their
ranking by ``trainer.monitor``: ``sweep/summary.csv``, ``best_<monitor>`` and ``runner.best_run``,
and the finished jobs' ``mean_<monitor>`` and ``std_<monitor>`` (a cross-validation's score); the
console gets the same. The MLflow UI folds the jobs' runs under it. A job finds its
parent in ``RUNNER_SWEEP_RUN`` (launchers' worker processes inherit the environment); a job
refused before its run started gets one made for it (``record_refusal``), so every job is ranked.

``tracking.resume=SWEEP_RUN`` continues a sweep in its own run (``runner/sweep_resume.py``).

Hydra skips ``on_multirun_end`` when the sweep raises (a job failed) or is
interrupted, so the parent is also closed at exit: ``FAILED`` or ``KILLED`` then.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
from contextlib import ExitStack
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, read_write

from runner.errors import RunnerError
from runner.sweep_jobs import (
    JOB_TAG,
    fixed_keys,
    mean_and_std,
    ranked,
    summary,
    superseded_left_out,
    without_resume,
)
from runner.trainer_checks import sweep_direction

PARENT = "RUNNER_SWEEP_RUN"
# A job that failed in a launcher's worker process ends there (``on_job_end`` runs there too): the
# entry point says so here when its failure reaches the sweep's process (``__main__.reported``).
FAILED_ELSEWHERE: list[str] = []
# The command that continues this process's sweep (for Ctrl-C's line): its own plus tracking.resume.
RESUME_WITH: list[str] = []


class SweepRun(Callback):
    def __init__(self) -> None:
        self.parent: str | None = None
        self.experiment = ""
        self.uri = ""
        self.monitor = ""
        self.fixed: set[str] = set()  # keys the sweep sets to one value: the same in every job
        self.failed = False  # a job failed (perhaps before its run started)
        self.once = SaidOnce()
        self.claim = ExitStack()  # a continued sweep's run, held against a second continue

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from runner.store import connect
        from runner.tracking import command

        overrides = without_resume(list(config.hydra.overrides.task))
        # What makes the sweep again includes its own settings: hydra.sweeper.n_trials, a launcher...
        hydras = [o for o in config.hydra.overrides.hydra if not o.startswith("hydra.mode=")]
        seed_the_sampler(config)
        again = command(config, [*overrides, *hydras], multirun=True)
        try:
            check_direction(config)
            OmegaConf.to_object(config.tracking)  # its schema's checks (an experiment with no name)
            experiment_id = connect(config.tracking.uri, config.tracking.experiment)
            if config.tracking.resume:  # this sweep's run again: its jobs go on under it
                from runner.sweep_resume import reopened

                os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # small files
                parent = reopened(config.tracking.resume, experiment_id, self.claim)
            else:
                parent = new_sweep_run(config, again, experiment_id)
        except RunnerError as err:  # every job would fail alike: one line, before any job runs
            print(f"runner: error: {err}", file=sys.stderr)
            sys.exit(2)  # an exception would only be a warning: Hydra catches a callback's
        self.parent, self.experiment, self.monitor = parent, experiment_id, config.trainer.monitor
        self.uri = config.tracking.uri
        RESUME_WITH[:] = [f"{again} tracking.resume={parent}"]
        self.fixed = fixed_keys(overrides)
        os.environ[PARENT] = self.parent
        atexit.register(self.finish, ended=False)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Hydra has just given this job its console and log file handlers."""
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if HydraConfig.get().mode == RunMode.MULTIRUN:
            for handler in logging.getLogger().handlers:
                if not isinstance(handler, logging.FileHandler):  # the console's
                    handler.addFilter(self.once)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        self.failed |= job_return.status == JobStatus.FAILED

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self.finish(ended=True)

    def finish(self, ended: bool) -> None:
        """Rank the jobs' runs, log the ranking to the parent and end it (once). A store that fails
        now (a server gone during the sweep) is one line: each job has said what became of it."""
        from mlflow.exceptions import MlflowException

        from runner.store import first, gone

        if self.parent is None:
            return
        parent, self.parent = self.parent, None
        try:
            self.rank_and_end(parent, ended)
        except (MlflowException, OSError) as err:
            reason = gone(self.uri) or first(str(getattr(err, "message", err)))
            print(
                f"runner: error: the sweep's run {parent} could not be ranked or ended in MLflow "
                f"(tracking.uri={self.uri}: {reason}); the lines above say what became of each job. "
                f"Once the store answers, {RESUME_WITH[0]} continues the sweep.",
                file=sys.stderr,
            )
        finally:
            self.claim.close()

    def rank_and_end(self, parent: str, ended: bool) -> None:
        import mlflow

        from runner import record

        client = mlflow.MlflowClient()
        jobs = jobs_under(client, self.experiment, parent)
        if not ended and any(job.info.status == "RUNNING" for job in jobs):
            # Interrupted, with jobs in a launcher's worker processes, which go with this one
            # before each could end its run: none of them runs on after the sweep.
            for job in jobs:
                if job.info.status == "RUNNING":
                    client.set_terminated(job.info.run_id, "KILLED")
            jobs = jobs_under(client, self.experiment, parent)
        rows = ranked(superseded_left_out(jobs, self.fixed), self.monitor, self.fixed)
        header = ["rank", self.monitor, "status", "run_id", "overrides"]
        client.log_text(parent, record.csv_text(header, rows), "sweep/summary.csv")
        if rows and rows[0][2] == "FINISHED":  # the best of the jobs that ran to the end
            client.log_metric(parent, f"best_{self.monitor}", rows[0][1])
            client.set_tag(parent, "runner.best_run", rows[0][3])
        spread = mean_and_std(rows)
        if spread:  # a cross-validation's score (experiment=cv), or a result's spread over seeds
            client.log_metric(parent, f"mean_{self.monitor}", spread[0])
            client.log_metric(parent, f"std_{self.monitor}", spread[1])
        statuses = {job.info.status for job in jobs}
        # A sweeper that ended finished, failed jobs and all (Optuna's study goes on past a failed
        # trial as hydra.sweeper.max_failure_rate allows); one stopped by a failed job failed.
        failed = self.failed or bool(FAILED_ELSEWHERE) or "FAILED" in statuses
        status = "FINISHED" if ended else ("FAILED" if failed else "KILLED")
        client.set_terminated(parent, status)
        print(summary(parent, rows, self.monitor, spread), file=sys.stderr)


class SaidOnce(logging.Filter):
    """A sweep's console shows a warning its jobs repeat word for word (the same files' imbalance,
    the same batch larger than the training images) once, not once a job; each job's own log file
    (``runner.log``) keeps it."""

    def __init__(self) -> None:
        super().__init__()
        self.said: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        message = record.getMessage()
        first = message not in self.said
        self.said.add(message)
        return first


def new_sweep_run(config: DictConfig, again: str, experiment_id: str) -> str:
    """The sweep's own run: the command that makes it ``again``, its folder and process."""
    import mlflow

    from runner.liveness import process_tag
    from runner.tracking import users_tags

    tags = {
        "runner.command": again,
        "runner.sweep_dir": config.hydra.sweep.dir,
        **process_tag(),
        **users_tags(config.tracking),
    }
    return mlflow.MlflowClient().create_run(experiment_id, tags=tags, run_name="sweep").info.run_id


def jobs_under(
    store: Any, experiment: str, parent: str, newest_first: bool = False, page: int = 1000
) -> list:
    """Every run under sweep run ``parent`` (a long study has more than MLflow's page of 1,000)."""
    from runner.store import every_run

    order = ["attributes.start_time DESC"] if newest_first else None
    return every_run(store, experiment, f"tags.`mlflow.parentRunId` = '{parent}'", order, page)


def nested_under(parent: str) -> dict[str, str]:
    """The tags of a job's run: under its sweep's run, with its number in the sweep."""
    from hydra.core.hydra_config import HydraConfig

    return {"mlflow.parentRunId": parent, JOB_TAG: str(HydraConfig.get().job.num)}


def record_refusal(cfg: DictConfig, overrides: list[str], err: Exception, message: str) -> None:
    """A job refused before its run started (a value only it has, refused before TensorFlow) gets
    a run all the same, under the sweep's: ``FAILED``, with its overrides and its line as
    ``runner.error``. So ``sweep/summary.csv`` lists every job, whichever launcher ran it. Not
    for a job whose run recorded its failure already, nor outside a sweep."""
    parent = os.environ.get(PARENT)
    if parent is None or getattr(err, "recorded_in", None):
        return
    import mlflow
    from mlflow.exceptions import MlflowException

    from runner.tracking import MAX_TAG, command, unseeded_random

    tags = {
        **nested_under(parent),
        "runner.overrides": json.dumps(overrides),
        "runner.command": command(cfg, overrides)[:MAX_TAG],  # the job alone, to fix and run again
        "runner.error": message[:MAX_TAG],
    }
    try:  # a courtesy: the job's line is on stderr already, whatever happens here
        client = mlflow.MlflowClient(cfg.tracking.uri)
        with unseeded_random():
            run = client.create_run(client.get_run(parent).info.experiment_id, tags=tags)
        client.set_terminated(run.info.run_id, "FAILED")
    except (MlflowException, OSError):
        pass


def check_direction(config: DictConfig) -> None:
    """A sweeper that optimises (Optuna's ``hydra.sweeper.direction``) the other way from what is
    better for ``trainer.monitor`` would search for the worst model, and say it found the best."""
    direction = str(OmegaConf.select(config, "hydra.sweeper.direction", default="")).lower()
    monitor = config.trainer.monitor
    wanted = sweep_direction(monitor)
    if direction in ("minimize", "maximize") and direction != wanted:
        better = "lower" if wanted == "minimize" else "higher"
        raise RunnerError(
            f"hydra.sweeper.direction={direction}: trainer.monitor={monitor} is better {better}, so "
            f"the sweeper would search for the worst model. Add hydra.sweeper.direction={wanted}."
        )


def seed_the_sampler(config: DictConfig) -> None:
    """Optuna's samplers are unseeded unless given one (the plugin's default): each search would
    draw other trials, neither repeatable nor resumable (``sweep_resume``). One left so takes
    ``trainer.seed``, as the run's weights do; Hydra builds the sweeper from ``config`` after this."""
    sampler = OmegaConf.select(config, "hydra.sweeper.sampler")
    if isinstance(sampler, DictConfig) and "seed" in sampler and sampler.seed is None:
        with read_write(sampler):
            sampler.seed = config.trainer.seed
