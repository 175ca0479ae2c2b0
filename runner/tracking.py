"""MLflow: one run per training job, holding everything needed to read it and run it again.

Logged: the flattened resolved config as params (dotted keys), the resolved ``config.yaml`` and
Hydra's ``.hydra/`` files, the command-line overrides as a tag, per-epoch metrics (MLflow's Keras
callback), the data record (``record.py``), the code and machine (``provenance.py``), the
evaluation (``evaluate.py``), the model and what else ``fit`` logs (``fit_log.py``) and, whatever
happens, the run's log and checkpoints. A failed run ends FAILED with its error as a tag; Ctrl-C
ends it KILLED.
``python -m runner.rerun ID --resume`` continues the same MLflow run: each resume logs its output
folder as ``outputs/resume-N/``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shlex
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import mlflow
from omegaconf import DictConfig, OmegaConf

from runner import liveness, provenance, store
from runner.errors import RunnerError, explain
from runner.schemas.tracking import TrackingConfig
from runner.sweep import PARENT, nested_under
from runner.words import shell_join

log = logging.getLogger(__name__)
MAX_TAG = 5000


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}: MLflow params are flat, the config is not."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def users_tags(tracking: DictConfig) -> dict[str, str]:
    """``tracking.tags`` as given, and ``tracking.description`` as the run's note in the UI."""
    found = {str(key): str(value) for key, value in tracking.tags.items()}
    return found | ({"mlflow.note.content": tracking.description} if tracking.description else {})


def command(cfg: DictConfig, overrides: list[str], multirun: bool = False) -> str:
    """The command line that makes this run (or with ``multirun``, this sweep) again, quoted for a
    shell (``data.pattern=photos/**/*.jpg`` or ``data.image_size=[224,224]`` would be globbed)."""
    flag = ["-m"] if multirun else []
    if cfg.tracking.rerun_of is None:
        return shell_join(["python", "-m", "runner", *flag, *overrides])
    others = [o for o in overrides if not o.startswith("tracking.rerun_of=")]
    return shell_join(["python", "-m", "runner.rerun", cfg.tracking.rerun_of, *flag, *others])


@contextmanager
def run(cfg: DictConfig, output_dir: Path, overrides: list[str], attempt: int = 0) -> Iterator[str]:
    """An MLflow run around the job; yields its id and ends it with the job's real status.

    ``attempt`` > 0 continues run ``tracking.resume`` (its ``attempt``-th resume): its params and
    config are already there, and this attempt's outputs go to ``outputs/resume-<attempt>/``."""
    experiment_id = store.connect(cfg.tracking.uri, cfg.tracking.experiment)
    liveness.close_dead_runs(mlflow.MlflowClient(), experiment_id)
    tags = {
        "runner.output_dir": str(output_dir),
        "runner.attempts": str(attempt + 1),
        **liveness.process_tag(),
    }
    if attempt:
        active = mlflow.start_run(run_id=cfg.tracking.resume, log_system_metrics=cfg.tracking.system_metrics)
        mlflow.set_tags(tags)
        if "runner.error" in active.data.tags:  # what stopped the last attempt: this one goes on
            mlflow.delete_tag("runner.error")
    else:
        tags |= {
            "runner.overrides": json.dumps(overrides),
            "runner.command": command(cfg, overrides)[:MAX_TAG],
            "runner.cwd": os.getcwd(),  # where its relative paths are read from (runner.rerun)
            "runner.cpu": provenance.cpu(),  # what picks TensorFlow's kernels (runner.rerun)
            **users_tags(cfg.tracking),
        }
        if sweep_run := os.environ.get(PARENT):  # a job of a sweep: nested under the sweep's run
            tags |= nested_under(sweep_run)
        code, diff = provenance.provenance()
        with unseeded_random():
            active = mlflow.start_run(
                run_name=cfg.tracking.run_name,
                tags={**tags, **code},
                log_system_metrics=cfg.tracking.system_metrics,
            )
        if diff:
            mlflow.log_text(diff, "code/git.diff")
        resolved = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        mlflow.log_params({k: str(v) for k, v in flatten(resolved).items()})
        mlflow.log_text(OmegaConf.to_yaml(resolved), "config.yaml")
    run_id = active.info.run_id
    log.info(
        "MLflow run %s in %s (%s repeats or continues it)",
        run_id,
        cfg.tracking.uri,
        rerun_command(run_id, cfg.tracking.uri, "[--resume]"),
    )
    status, lost = "FINISHED", None
    try:
        yield run_id
    except BaseException as err:
        status = "KILLED" if isinstance(err, KeyboardInterrupt) else "FAILED"
        resume = rerun_command(run_id, cfg.tracking.uri, "--resume")
        if (gone := store.gone(cfg.tracking.uri)) is not None:  # it stays RUNNING there: a resume
            lost = RunnerError(  # closes it (liveness) and goes on after its last logged epoch
                f"tracking.uri={cfg.tracking.uri}: the MLflow server stopped answering ({gone}), so "
                f"run {run_id} stopped. Its log, checkpoints and backup are in {output_dir}; once the "
                f"server answers again, {resume} continues it."
            )
            raise lost from err
        err.recorded_in = run_id  # a sweep job's failure has its run (sweep.record_refusal)
        err.resume_with = resume  # for Ctrl-C's line
        try:  # bad input: the one line the user saw; a bug: its type and message (the log has the rest)
            mlflow.set_tag("runner.error", (explain(err) or f"{type(err).__name__}: {err}")[:MAX_TAG])
        except Exception as failed:  # noqa: BLE001 - the store's own trouble must not hide the run's
            unrecorded("its error", failed)
        raise
    finally:
        if lost:
            with suppress(Exception):  # fails at once; it leaves MLflow's stack of runs
                mlflow.end_run(status)
        else:
            end(status, output_dir, outputs_path(attempt), run_id)


def end(status: str, output_dir: Path, path: str, run_id: str) -> None:
    """Log the job's output folder and end the run with ``status``. After a failed job, MLflow
    failing too (a full disk, a broken store) is logged, not raised, so the user hears what stopped
    the job; after a finished one, it is raised and the run ends FAILED."""
    try:
        log_outputs(output_dir, path, mlflow.MlflowClient(), run_id)
        mlflow.end_run(status)
    except Exception as failed:
        with suppress(Exception):  # whatever the store takes of it
            mlflow.end_run("FAILED" if status == "FINISHED" else status)
        if status == "FINISHED":
            raise
        unrecorded("its outputs or its end", failed)


def unrecorded(what: str, failed: Exception) -> None:
    """One line: a store's error goes on with its SQL statement and parameters, the run's error
    message among them, which the console says already."""
    reason = str(failed).partition("\n")[0]
    log.warning("MLflow could not record %s: %s: %s", what, type(failed).__name__, reason)


def rerun_command(run_id: str, uri: str, flag: str) -> str:
    """The command that repeats or continues a run, with its store unless that is the default."""
    store = "" if uri == TrackingConfig.uri else f" tracking.uri={shlex.quote(uri)}"
    return f"python -m runner.rerun {run_id} {flag}{store}"


@contextmanager
def unseeded_random() -> Iterator[None]:
    """MLflow names an unnamed run with Python's ``random``, which ``trainer.seed`` has seeded:
    every run would get the same name. Fresh randomness names it; the seeded state is put back."""
    state = random.getstate()
    random.seed()
    try:
        yield
    finally:
        random.setstate(state)


def report(cfg: DictConfig, run_id: str, result: float, best: Path) -> None:
    """A run's last lines: what it scored, and how to look at it and use its model."""
    monitor, epochs = cfg.trainer.monitor, cfg.trainer.epochs
    found = json.loads(best.read_text()) if best.exists() else None
    at_best = f" (best {found['value']:.4f} at epoch {found['epoch'] + 1}/{epochs})" if found else ""
    log.info("run %s: %s %.4f%s", run_id, monitor, result, at_best)
    uri = cfg.tracking.uri
    look = uri if uri.startswith("http") else f"mlflow ui --backend-store-uri {uri}"
    model = "[--best]" if cfg.tracking.log_model else "--best"  # without a logged model: its checkpoint
    log.info("see it: %s; use its model: python -m runner.predict %s PATH... %s", look, run_id, model)


def outputs_path(attempt: int) -> str:
    """Where attempt ``attempt`` (0: the first) of a run logs its output folder."""
    return f"outputs/resume-{attempt}" if attempt else "outputs"


def attempts(run: Any) -> int:
    """How many times an MLflow run was started: 1 + its resumes. Its last attempt's output
    folder is logged at ``outputs_path(attempts(run) - 1)``."""
    return int(run.data.tags.get("runner.attempts", "1"))


def log_outputs(output_dir: Path, path: str, client: mlflow.MlflowClient, run_id: str) -> None:
    """A job's output folder (log, checkpoints, Hydra's files), less data/ (logged as data/) and the
    lock the run held on the folder."""
    for item in sorted(output_dir.iterdir()) if output_dir.is_dir() else []:
        if item.name in ("data", liveness.OUTPUTS_LOCK):
            continue
        if item.is_dir():
            client.log_artifacts(run_id, str(item), f"{path}/{item.name}")
        else:
            client.log_artifact(run_id, str(item), path)
