"""A past run read back from its MLflow store: found by id or name, its ``config.yaml`` as data
(allowed ``_target_``s only, no interpolations), and, for a rerun, its keys against this runner's
schemas, with the code it was made with. Used by rerun, predict, evaluate and export.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from runner.config import SCHEMAS, RunnerConfig
from runner.config_errors import as_override
from runner.errors import RunnerError
from runner.store import client as open_store
from runner.store import quoted, require_form, sqlite_file
from runner.targets import check_targets
from runner.words import closest, mended_path

RECENT = 1000  # runs, latest first, that a run's id's start or a misspelt name is looked for among


def client(uri: str, key: str = "tracking.uri") -> Any:
    """A client for the store at ``uri`` (given as ``key``: predict's ``--tracking-uri``); a sqlite
    file that is not there is an error, not a new store."""
    require_form(uri, key)
    if (path := sqlite_file(uri)) is not None and not path.exists():
        mended = mended_path(path)
        meant = f" Did you mean {key}=sqlite:///{mended}?" if mended else ""
        raise RunnerError(
            f"{key}={uri}: no MLflow store there.{meant} Run this where the run was trained, or "
            f"point {key} at its store."
        )
    return open_store(uri)


def find_run(store: Any, reference: str) -> Any:
    """The run ``reference`` names in ``store``: its id, or its name (``tracking.run_name``, or the
    one MLflow gave it, which the UI shows) when exactly one run has that name, or the start of its
    id (6 characters at least, as git takes a commit's) when exactly one recent run's id has it."""
    from mlflow.exceptions import MlflowException

    try:
        return store.get_run(reference)
    except MlflowException:
        pass
    experiments = [experiment.experiment_id for experiment in store.search_experiments()]
    name = quoted(reference)
    named = (
        store.search_runs(experiments, f"attributes.run_name = {name}", max_results=6)
        if experiments and name
        else []
    )
    if len(named) == 1:
        return named[0]
    if not named:
        return nearest_run(store, experiments, reference)
    listed = ", ".join(f"{run.info.run_id} ({run.info.status})" for run in named[:5])
    raise RunnerError(
        f"run {reference}: {'more than 5' if len(named) > 5 else len(named)} runs in "
        f"{store.tracking_uri} have that name, latest first: {listed}. Give the id of one."
    )


def nearest_run(store: Any, experiments: list[str], reference: str) -> Any:
    """The one of the latest runs whose id ``reference`` starts; else an error naming those runs,
    or the name ``reference`` may mean."""
    latest = ["attributes.start_time DESC"]
    recent = store.search_runs(experiments, "", max_results=RECENT, order_by=latest) if experiments else []
    begun = [run for run in recent if len(reference) >= 6 and run.info.run_id.startswith(reference.lower())]
    if len(begun) == 1:
        return begun[0]
    hint = closest(reference, {run.info.run_name for run in recent if run.info.run_name})
    if begun:
        ids = ", ".join(run.info.run_id for run in begun[:5])
        hint = f" The ids of {len(begun)} runs start so ({ids}): give more of one."
    raise RunnerError(
        f"run {reference}: not found in {store.tracking_uri}: no run has that id or name.{hint}"
    )


def fetch(store: Any, reference: str) -> tuple[Any, dict]:
    """The run ``reference`` names (``find_run``) and its stored config, checked as data."""
    from mlflow.exceptions import MlflowException

    run = find_run(store, reference)
    run_id = run.info.run_id
    if "runner.sweep_dir" in run.data.tags:  # a sweep's own run (runner/sweep.py): no model, no config
        again = run.data.tags["runner.command"]
        best = run.data.tags.get("runner.best_run")
        raise RunnerError(
            f"run {run_id} is a sweep, not a training run. Use one of its jobs' runs (the MLflow UI "
            f"lists them under it{f'; {best} is its best' if best else ''}), run the whole sweep "
            f"again: {again}, or continue it (its finished jobs kept): {again} tracking.resume={run_id}"
        )
    if trained := run.data.tags.get("runner.evaluation_of"):  # runner.evaluate's: scores, no model
        raise RunnerError(
            f"run {run_id} is an evaluation of run {trained} (runner.evaluate), not a training run. "
            f"Use run {trained} (its model, its config), or score it again: "
            f"{run.data.tags.get('runner.command', 'python -m runner.evaluate ...')}"
        )
    try:
        with tempfile.TemporaryDirectory() as folder:
            text = Path(store.download_artifacts(run_id, "config.yaml", folder)).read_text()
    except MlflowException as err:
        raise RunnerError(
            f"run {run_id}: its config.yaml is not among its artifacts at {run.info.artifact_uri}: "
            f"that folder was moved or deleted (a sqlite store keeps them in mlruns/ beside it), or "
            f"the runner did not make this run."
        ) from err
    where = f"run {run_id}'s config.yaml"
    try:
        stored = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise RunnerError(
            f"{where}: not YAML ({getattr(err, 'problem', None) or err}{at}): cut short or edited "
            f"in the store."
        ) from err
    if not isinstance(stored, dict) or not all(isinstance(v, dict) for v in stored.values()):
        raise RunnerError(f"{where}: not a runner config (a mapping of groups: data, aug, model, ...).")
    check_stored(stored, where)
    if missing := [field.name for field in fields(RunnerConfig) if field.name not in stored]:
        raise RunnerError(
            f"{where}: has no {' or '.join(missing)} group, which every run's config has: it was cut "
            f"short or edited in the store. Use another run, or start a new one."
        )
    return run, stored


def check_stored(stored: dict, where: str) -> None:
    """Allowed ``_target_``s only, and no interpolations: a resolved config has none, so one that
    does was edited after the run, and Hydra would evaluate it."""
    from runner.tracking import flatten

    for group, node in stored.items():
        check_targets(node, group)
    for key, value in flatten(stored).items():
        if "${" in str(value):
            raise RunnerError(f"{where}: {key}={value!r} is an interpolation; a stored config is data only.")


def schema_of(group: str, values: dict) -> str | None:
    """The ``SCHEMAS`` name a stored group was made with: its own, or its ``_target_``'s."""
    by_target = {cls._target_: name for name, cls in SCHEMAS.items() if hasattr(cls, "_target_")}
    return group if group in SCHEMAS else by_target.get(values.get("_target_"))


def schema_fields(group: str, values: dict) -> tuple[dataclasses.Field, ...]:
    """The fields of the schema a stored group was made with; none for a group without one."""
    schema = schema_of(group, values)
    return fields(SCHEMAS[schema]) if schema else ()


def require_known_keys(run: Any, stored: dict) -> None:
    """A key of the stored config that this runner's schemas lack: the run was made by a runner
    that had it (a key renamed or removed since), and Hydra would stop on it in its own words."""
    if found := unknown_key(stored):
        key, hint = found
        raise RunnerError(
            f"run {run.info.run_id}'s {key}: this runner has no such key.{hint} The run was made "
            f"by {made_by(run)}, which had it: rerun it with that code, or start a new run with "
            f"this runner's keys (python -m runner --cfg job lists them)."
        )


def unknown_key(stored: dict) -> tuple[str, str] | None:
    """The first stored group or key no schema has, and the closest that one has."""
    groups = [field.name for field in fields(RunnerConfig)]
    for group, values in stored.items():
        if group not in groups:
            return group, closest(group, groups)
        known = [field.name for field in schema_fields(group, values)] or list(values)
        if name := next((key for key in values if key not in known), None):
            return f"{group}.{name}", closest(name, known)
    return None


def added_keys(stored: dict) -> dict[str, str]:
    """``group.key -> default`` for each key this runner's schemas have and a stored config lacks:
    keys added since the run was made, which a rerun (or a resume) gives their defaults."""
    added = {}
    for group, values in stored.items():
        for field in schema_fields(group, values):
            if field.name not in values:
                added[f"{group}.{field.name}"] = as_override(default_of(field))
    return added


def default_of(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def made_by(run: Any) -> str:
    """The runner code a run records: its git commit (and how to get it back), or its version."""
    commit = run.data.tags.get("runner.git_commit", "")
    if commit.endswith("-dirty"):
        return f"commit {commit} (git checkout {commit[:-6]}, then git apply its code/git.diff)"
    if commit:
        return f"commit {commit} (git checkout {commit})"
    version = json.loads(run.data.tags.get("runner.versions", "{}")).get("runner")
    return f"runner {version}" if version else "another version of the runner"
