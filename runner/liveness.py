"""Which process runs an MLflow run, and closing the runs whose process died without a word.

A run killed by SIGKILL, the kernel's out-of-memory killer or a power cut cannot end its own MLflow
run: it would stay ``RUNNING`` for good. Each run (and each sweep's own run) records the process it
runs in (``runner.process``: this machine, the pid and the process's start time, which a reused pid
does not share); a run that starts in the same experiment on the same machine marks such runs
``KILLED``, logs what their output folders hold (log, checkpoints, backup) and says how to resume
them. Runs of other machines are left as they are: their processes cannot be seen from here.

Two processes of this machine never do at once what only one may (``machine_lock``, a file in
the temp folder): resume one run (``resuming``), or open a new sqlite store
(``store.one_at_a_time``). Nor do two runs write one output folder (``writing``: its lock file is
in that folder).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from runner.errors import RunnerError

if TYPE_CHECKING:
    from filelock import FileLock

log = logging.getLogger(__name__)
TAG = "runner.process"
OUTPUTS_LOCK = ".runner.lock"  # in a run's output folder, held while a run writes there (``writing``)


class State(Enum):
    alive = "alive"
    dead = "dead"
    unknown = "unknown"  # another machine's, or a run of an older runner that did not say


def machine() -> str:
    """This machine and pid namespace: a pid names the same process only within both (a container
    shares its host's boot id, and often its host name, but not its pids)."""
    parts = [socket.gethostname()]
    try:
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:  # not Linux: the host name alone
        pass
    return "/".join(parts)


def partial(folder: Path, name: str, suffix: str = "") -> Path:
    """Where this process writes ``name`` before renaming it into place: named by this machine
    (``machine()``, as a digest) and pid, so that ``dead_partials`` tells a writer that died from
    one still writing, here or on another machine (or container) sharing the folder."""
    return folder / f"{name}.{machine_digest()}.{os.getpid()}.partial{suffix}"


def dead_partials(folder: Path, name: str = "*", suffix: str = "") -> list[Path]:
    """The partial files of ``name`` (a glob) in ``folder`` whose writer, a process of this
    machine, is gone (SIGKILL, the out-of-memory killer): nothing else would ever remove them.
    Another machine's are left."""
    dead = []
    for path in folder.glob(f"{name}.{machine_digest()}.*.partial{suffix}"):
        pid = path.name.removesuffix(suffix).split(".")[-2]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            dead.append(path)
    return dead


def machine_digest() -> str:
    """``machine()`` as a part of a file name."""
    return hashlib.sha256(machine().encode()).hexdigest()[:12]


def machine_lock(name: str) -> FileLock:
    """A lock among this machine's processes: a file in the temp folder (none beside your files)
    that every user may lock, so people who share a store share its locks; the OS drops it when
    its process dies."""
    from filelock import FileLock

    return FileLock(Path(tempfile.gettempdir()) / f"runner-{name}.lock", mode=0o666)


@contextmanager
def resuming(run_id: str | None) -> Iterator[None]:
    """Held by the one process of this machine that resumes run ``run_id`` (None: no resume), from
    its checks to its end: two resumes started together both found the run stopped, and both
    trained on in it (each epoch logged twice, one's outputs over the other's)."""
    if run_id is None:
        yield
        return
    refusal = (
        f"run {run_id} is being resumed by another process on this machine. Let it finish, or "
        f"stop it and resume the run then."
    )
    with held(machine_lock(f"resume-{run_id}"), refusal):
        yield


@contextmanager
def writing(output_dir: Path) -> Iterator[None]:
    """Held by the one run that writes its checkpoints, backup and log in ``output_dir``: two runs
    given one fixed ``hydra.run.dir`` at once each wrote over the other's, and each logged to MLflow
    what it found there (one's model as the other's). The lock file is in the folder itself (each
    run has its own: in the temp folder, one a run would pile up), and is not logged."""
    from filelock import FileLock

    output_dir.mkdir(parents=True, exist_ok=True)
    refusal = (
        f"{output_dir}: another run writes its checkpoints, backup and log there now. Give each run "
        f"its own folder (hydra.run.dir, or hydra.sweep.dir for a sweep; left unset, each run gets a "
        f"new one)."
    )
    with held(FileLock(output_dir / OUTPUTS_LOCK, mode=0o666), refusal):
        yield


@contextmanager
def held(lock: FileLock, refusal: str) -> Iterator[None]:
    """``lock`` for the block, or ``refusal`` at once where another process holds it."""
    from filelock import Timeout

    try:
        lock.acquire(blocking=False)
    except Timeout:
        raise RunnerError(refusal) from None
    try:
        yield
    finally:
        lock.release()


def process_tag() -> dict[str, str]:
    """The tag that says which process runs a run: set when the run starts."""
    process = psutil.Process()
    record = {"machine": machine(), "pid": process.pid, "started": process.create_time()}
    return {TAG: json.dumps(record)}


def recorded(run: Any) -> dict | None:
    """The process a run recorded; None if it recorded none (or the tag is not one of ours)."""
    try:
        record = json.loads(run.data.tags.get(TAG, "null"))
        return record if {"machine", "pid", "started"} <= set(record) else None
    except (ValueError, TypeError):
        return None


def state(run: Any) -> State:
    """Whether the process a run recorded is still running."""
    record = recorded(run)
    if record is None or record["machine"] != machine():
        return State.unknown
    try:
        started = psutil.Process(record["pid"]).create_time()
    except psutil.NoSuchProcess:
        return State.dead
    except psutil.AccessDenied:
        return State.unknown
    return State.alive if abs(started - record["started"]) < 0.01 else State.dead  # else a reused pid


def pid(run: Any) -> int | None:
    record = recorded(run)
    return record["pid"] if record else None


def close(client: Any, run: Any, why: str) -> str:
    """End a run whose process is gone: ``KILLED``, with ``why`` as its error, and what its output
    folder holds logged, as the process would have at its end. Logging them may fail (a full disk,
    the very reason it died): then they stay where they are, and the run says so. Returns its error."""
    from mlflow.exceptions import MlflowException

    from runner.tracking import attempts, log_outputs, outputs_path

    run_id = run.info.run_id
    local = Path(run.data.tags.get("runner.output_dir", "/nonexistent"))
    if local.is_dir():
        try:
            log_outputs(local, outputs_path(attempts(run) - 1), client, run_id)
        except (OSError, MlflowException) as err:
            why += f"; its outputs stay in {local} (logging them failed: {err})"
    client.set_tag(run_id, "runner.error", why)
    client.set_terminated(run_id, "KILLED")
    return why


def close_dead_runs(client: Any, experiment_id: str, page: int = 1000) -> None:
    """Close the runs of this experiment that are ``RUNNING`` in a process of this machine that
    has died (every one: a shared experiment may hold more than a page of running runs)."""
    from runner.store import every_run

    for run in every_run(client, experiment_id, "attributes.status = 'RUNNING'", page=page):
        if state(run) == State.dead:
            run_id = run.info.run_id
            why = (
                f"its process (pid {pid(run)}) ended without ending the run: killed (SIGKILL, out of "
                f"memory), its machine stopped, or its store could not be written (a full disk)"
            )
            if "runner.sweep_dir" in run.data.tags:  # a sweep's own run: its command continues it
                why += f". {run.data.tags.get('runner.command')} tracking.resume={run_id} continues it"
            else:
                why += f". python -m runner.rerun {run_id} --resume continues it"
            log.warning("run %s: %s", run_id, close(client, run, why))
