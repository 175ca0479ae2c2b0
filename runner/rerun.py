"""``python -m runner.rerun RUN_ID [--resume] [overrides]``: run a past run again, or continue it.

The config is the run's own resolved ``config.yaml``, not today's defaults, and it is read back as
data: every ``_target_`` must be allowed and every value must fit the schemas before anything is
built. A rerun is a new run with ``tracking.rerun_of`` set; overrides change what they name (``-m``
sweeps work too). ``--resume`` continues an unfinished run (failed, interrupted, or killed without
a word) in the same MLflow run, from the weights, optimizer state and epoch that
``keras.callbacks.BackupAndRestore`` kept after its last finished epoch; with the same config and
``trainer.deterministic=true`` its metrics are those of a run that was never interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import yaml
from omegaconf import DictConfig, OmegaConf

from runner.cli import refuse_bad_options
from runner.config import CONF_DIR, SCHEMAS
from runner.errors import RunnerError
from runner.rerun_checks import (
    note_added_keys,
    note_other_code,
    note_other_cpu,
    require_named_code,
    require_same_folder,
)
from runner.schemas.tracking import TrackingConfig
from runner.stored import added_keys, client, fetch, require_known_keys, schema_of

if TYPE_CHECKING:
    from runner.sources import FileIndex

log = logging.getLogger(__name__)
# Keys a resumed run may change: where it logs and how much it prints, not what it computes.
FREE_TO_CHANGE = ("tracking", "trainer.verbose")


def primary_config(stored: dict) -> dict:
    """A Hydra primary config: the stored values over the schemas they were made with, so that
    overrides are type-checked as for ``python -m runner``."""
    defaults: list[Any] = ["runner_schema"]
    for group, values in stored.items():
        if schema := schema_of(group, values):
            defaults.append(f"{schema}_schema@{group}")
    hydra = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "config.yaml").hydra)
    return {"defaults": [*defaults, "_self_"], **stored, "hydra": hydra}


def differences(stored: dict, cfg: DictConfig) -> list[str]:
    """``key (run: a, now: b)`` for each value a resumed run would change, tracking aside. A key
    added to the runner since the run was made is not one (``note_added_keys`` says its value)."""
    from runner.tracking import flatten

    now = flatten(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))
    before = flatten(stored)
    unchanged = (*FREE_TO_CHANGE, *added_keys(stored))
    keys = sorted(set(now) | set(before))
    return [
        f"{key} (run: {before.get(key)}, now: {now.get(key)})"
        for key in keys
        if not key.startswith(unchanged) and str(before.get(key)) != str(now.get(key))
    ]


def refuse_finished(run: Any) -> None:
    """A finished run has nothing to resume: said first, before any note about the run's code."""
    if run.info.status != "FINISHED":
        return
    run_id = run.info.run_id
    last = Path(run.data.tags.get("runner.output_dir", "."), "checkpoints", "last.keras")
    saved = last if last.is_file() else "PATH (its checkpoints/last.keras, in MLflow)"
    raise RunnerError(
        f"run {run_id} finished; there is nothing to resume. To train it longer, rerun it from "
        f"the start with more epochs (python -m runner.rerun {run_id} trainer.epochs=N), or "
        f"train its final model further in a new run (python -m runner model=file "
        f"model.path={saved}, with the run's data overrides)."
    )


def prepare_resume(cfg: DictConfig, output_dir: Path, index: FileIndex) -> int:
    """Check that run ``tracking.resume`` can be continued with ``cfg`` on the files of ``index``,
    put its backup in ``output_dir/backup`` for ``BackupAndRestore``, and return how many attempts
    it had. Refusals come before anything of the run is touched."""
    from runner import liveness, record
    from runner.tracking import attempts, outputs_path

    run_id = cfg.tracking.resume
    store = client(cfg.tracking.uri)
    run, stored = fetch(store, run_id)
    refuse_finished(run)
    if changed := differences(stored, cfg):
        raise RunnerError(
            f"run {run_id}: a resumed run continues the same config, and this one differs at "
            f"{'; '.join(changed[:3])}. Rerun it with those changes instead: "
            f"python -m runner.rerun {run_id} ..."
        )
    if changed := record.data_changes(store, run_id, index):
        raise RunnerError(
            f"run {run_id}: its files changed since it trained on them: {'; '.join(changed)}. A "
            f"resumed run continues on the same files: restore them, or rerun it on the files as "
            f"they are now: python -m runner.rerun {run_id}"
        )
    if run.info.status in ("RUNNING", "SCHEDULED"):
        if liveness.state(run) == liveness.State.alive:
            raise RunnerError(
                f"run {run_id} is still running, in process {liveness.pid(run)} on this machine. "
                f"Stop it (Ctrl-C, or kill {liveness.pid(run)}) and resume it then."
            )
        # Its process died without a word (SIGKILL, out of memory, power): log what it left here.
        log.warning(
            "run %s is still marked %s; continuing it as if its process died", run_id, run.info.status
        )
        liveness.close(store, run, "its process ended without ending the run; resumed")
    from runner.backup import Backup  # Keras: imported once the resume is accepted
    from runner.callbacks import BestCheckpoint

    started = attempts(run)
    last = outputs_path(started - 1)
    local = Path(run.data.tags.get("runner.output_dir", "/nonexistent"))
    backup = [local / "backup", f"{last}/backup"]
    copies: list[Path] = []  # what this attempt copied into its output folder: removed if refused
    if source := restore(store, run_id, backup, output_dir / "backup", "**/training_metadata.json", copies):
        Backup.put_back(output_dir / "backup")
        if problem := Backup.unreadable(output_dir / "backup"):
            refuse_unreadable(run_id, "backup", source, problem, copies)
    if not Backup.resumed_epoch(output_dir / "backup"):
        log.warning("run %s kept no finished epoch to continue from: it starts again at epoch 0", run_id)
    checkpoints = [local / "checkpoints", f"{last}/checkpoints"]  # best.keras carries on from there
    source = restore(store, run_id, checkpoints, output_dir / "checkpoints", "best.json", copies)
    if source and (problem := BestCheckpoint.unreadable(output_dir / "checkpoints")):
        refuse_unreadable(run_id, "best checkpoint's record", source, problem, copies)
    return started


def refuse_unreadable(
    run_id: str, what: str, source: Path | str, problem: str, copies: list[Path]
) -> NoReturn:
    """A restored backup or best checkpoint that cannot be read, refused before Keras fails on it
    inside ``fit``. This attempt's ``copies`` are removed; the run's own folders never are."""
    where = source if isinstance(source, Path) else f"the run's artifact {source}"
    for copy in copies:
        shutil.rmtree(copy, ignore_errors=True)
    raise RunnerError(
        f"run {run_id}: its {what} in {where} cannot be read ({problem}): cut short by a disk error "
        f"or an interrupted copy. Put the whole file back, or run it again from its start as a new "
        f"run: python -m runner.rerun {run_id}"
    )


def restore(
    store: Any, run_id: str, sources: list[Path | str], to: Path, marker: str, copies: list[Path]
) -> Path | str | None:
    """Copy to ``to`` the first of ``sources`` (a local folder, or an artifact path of the run)
    that holds a file matching ``marker``: the run's backup, or its checkpoints. The source copied,
    or None if none holds one; ``to`` is added to ``copies`` once copied there.
    Nothing is copied where ``to`` is that folder: the run is resumed in its own output folder (a
    fixed ``hydra.run.dir``, or a sweep's ``hydra.sweep.dir``)."""
    from mlflow.exceptions import MlflowException

    for source in sources:
        with tempfile.TemporaryDirectory() as folder:
            found = source
            if isinstance(source, str):
                try:
                    found = Path(store.download_artifacts(run_id, source, folder))
                except (MlflowException, OSError):
                    continue
            if any(found.glob(marker)):
                if not (to.exists() and to.samefile(found)):
                    shutil.copytree(found, to)
                    copies.append(to)
                return source
    return None


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m runner.rerun",
        description="Run a past run's config again (a new run), or --resume an unfinished one.",
        epilog="Other arguments go to Hydra as for python -m runner: overrides (trainer.epochs=20), "
        "-m for a sweep (trainer.seed=1,2,3), --cfg job to print the config without running it.",
    )
    parser.add_argument(
        "run_id",
        metavar="RUN",
        help="the MLflow run id (mlflow ui, or the runner's log; its first 6 characters or more will "
        "do), or its name",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue this run from its last finished epoch"
    )
    parser.add_argument(
        "--tracking-uri",
        help="the run's MLflow store, where the rerun is logged too (as predict, evaluate and export "
        "take it; the override tracking.uri=URI does the same)",
    )
    args, rest = parser.parse_known_args(argv)
    refuse_bad_options(rest, own=list(parser._option_string_actions))  # no public list
    if args.tracking_uri is not None:  # given as an override, as the config takes it
        override = f"tracking.uri={args.tracking_uri}"
        if other := next((a for a in rest if a.startswith("tracking.uri=") and a != override), None):
            raise RunnerError(f"--tracking-uri {args.tracking_uri} and {other}: two stores; give one.")
        rest = [*rest, override] if override not in rest else rest
    return args, rest


def refuse_group_choices(args: list[str]) -> None:
    """``data=dir`` picks another option's defaults: a new experiment, not a rerun of this one."""
    groups = {name.split("_")[0] for name in SCHEMAS} | {"experiment"}
    for arg in args:
        key, sep, _ = arg.lstrip("+~").partition("=")
        if sep and key in groups:
            raise RunnerError(
                f"{arg}: a rerun keeps the run's {key} option and changes its values "
                f"({key}.KEY=VALUE); for another {key} option start a new run: python -m runner {arg} ..."
            )


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one small file
    from runner import __main__ as entry

    args, rest = entry.reported(parse, sys.argv[1:] if argv is None else argv)
    entry.reported(refuse_group_choices, rest)
    uri = next((a.partition("=")[2] for a in rest if a.startswith("tracking.uri=")), TrackingConfig.uri)
    key = "--tracking-uri" if args.tracking_uri else "tracking.uri"  # as the store was given, or not
    run, stored = entry.reported(lambda: fetch(client(uri, key), args.run_id))
    run_id = run.info.run_id  # args.run_id may be its name
    entry.reported(require_known_keys, run, stored)
    if args.resume:
        entry.reported(refuse_finished, run)
    note_other_code(run, args.resume)
    note_other_cpu(run, args.resume)
    note_added_keys(run, stored, rest, args.resume)
    entry.reported(require_named_code, stored, rest, run_id)
    entry.reported(require_same_folder, run, stored, rest, args.resume)
    with tempfile.TemporaryDirectory(prefix="runner-rerun-") as folder:
        (Path(folder) / "rerun.yaml").write_text(yaml.safe_dump(primary_config(stored), sort_keys=False))
        key = "tracking.resume" if args.resume else "tracking.rerun_of"
        # Next to the user's own overrides: Hydra takes them as one run of positional arguments.
        at = next((i for i, a in enumerate(rest) if "=" in a and not a.startswith("-")), len(rest))
        rest.insert(at, f"{key}={run_id}")
        sys.argv[1:] = ["--config-dir", folder, "--config-name", "rerun", *rest]
        entry.main()


if __name__ == "__main__":
    from runner.__main__ import run_command

    run_command(main)
