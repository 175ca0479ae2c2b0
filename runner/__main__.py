"""``python -m runner [overrides]``: compose the config, call ``train``, report bad input in one line.

TensorFlow and MLflow are imported only inside ``train``, so ``--help`` and ``--cfg job`` stay fast,
and ``train`` refuses bad config values and files before it imports them: a line in a second or two.
"""

from __future__ import annotations

import atexit
import gc
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, NoReturn

import hydra
from omegaconf import DictConfig

from runner.cli import refuse_bad_options
from runner.config import CONF_DIR, register_configs
from runner.errors import RunnerError, explain
from runner.interrupts import STOP_SIGNALS, Terminated, handled, raise_terminated
from runner.sweep import FAILED_ELSEWHERE, PARENT, RESUME_WITH, record_refusal
from runner.words import counted

# HYDRA_FULL_ERROR=1 from the user still means "show me the whole traceback".
WANTS_TRACEBACK = os.environ.get("HYDRA_FULL_ERROR") == "1"


def expand_home(args: list[str]) -> list[str]:
    """``data.path=~/pets`` -> ``data.path=/home/me/pets``: the shell leaves that ``~`` alone and
    Hydra's override grammar rejects it."""
    expanded = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep and not arg.startswith("-") and value.startswith("~"):
            arg = f"{key}={os.path.expanduser(value)}"
        expanded.append(arg)
    return expanded


class JobFailed(RunnerError):
    """A sweep's job stopped on an error the runner explains (bad input, a full disk, a server
    gone). Its line is printed already; Hydra records the job as failed and goes on with the next,
    and raises this again once the sweep's jobs have run (from a launcher's worker process,
    pickled: ``job`` says which)."""

    def __init__(self, message: str, job: str = "") -> None:
        super().__init__(message)
        self.job = job


FAILED_JOBS: list[str] = []  # this process's sweep jobs that failed so: "#N"


def overrides() -> list[str]:
    """The command line's words after the command, as ``explain`` reads them."""
    return sys.argv[1:]


def reported(fn: Callable[..., Any], *args: Any, trains: bool = True) -> Any:
    """Call ``fn``; bad input ends the process with one line on stderr and exit code 2. Ctrl-C,
    SIGTERM and SIGHUP end it with one line too, which for a command that ``trains`` says what
    became of its MLflow run."""
    try:
        with handled(STOP_SIGNALS, raise_terminated):  # during `fit`, it stops at a batch's end
            return fn(*args)
    except KeyboardInterrupt as err:
        if WANTS_TRACEBACK:
            raise
        resume = getattr(err, "resume_with", None)  # set by ``tracking.run`` on the run it marked KILLED
        killed = getattr(err, "recorded_in", None)
        terminated = err if isinstance(err, Terminated) else None
    except Exception as err:
        which = ", ".join(FAILED_JOBS)
        jobs = f"{counted(len(FAILED_JOBS), 'job')} of this sweep failed ({which}; each one's line is above)"
        if isinstance(err, JobFailed) and FAILED_JOBS:  # after the sweep: say what the sweep did
            message = f"{jobs}."
        elif isinstance(err, JobFailed):  # its jobs ran in a launcher's processes: this one's known
            message = f"job {err.job} of this sweep failed (each failed job's line is above)."
            FAILED_ELSEWHERE.append(err.job)
        else:
            message = explain(err, overrides())
            if message is None and FAILED_JOBS:  # a sweeper left with nothing: every trial failed
                message = f"{jobs}, and the sweeper stopped on it: {err}"
        if message is None or WANTS_TRACEBACK:
            raise
        print(f"runner: error: {message}", file=sys.stderr)
        leave(2)
    # Interrupted. Out of the except block the traceback is gone, and with it the frames that held
    # TensorFlow's iterators: collected now, their threads stop before the interpreter tears down
    # (exiting with them alive can crash it).
    gc.collect()
    sweep = os.environ.get(PARENT)
    if killed and sweep and RESUME_WITH:
        said = (
            f"run {killed} is marked KILLED in MLflow, with its log and checkpoints; {RESUME_WITH[0]} "
            f"continues the sweep: its finished jobs are not run again, this one resumes, the rest run"
        )
    elif killed:
        said = f"run {killed} is marked KILLED in MLflow, with its log and checkpoints; {resume} continues it"
    elif sweep:  # its jobs' runs elsewhere (a launcher's workers), or between two jobs
        said = "the sweep's run and its unfinished jobs' runs are marked KILLED in MLflow (below)"
        said += f"; {RESUME_WITH[0]} continues the sweep" if RESUME_WITH else ""
    elif trains:
        said = "its MLflow run had not started, so there is nothing to resume"
    else:
        said = ""
    stopped = f"stopped by {terminated.name}" if terminated else "interrupted"
    print(f"runner: {stopped}" + (f"; {said}" if said else ""), file=sys.stderr)
    leave(128 + (terminated.signum if terminated else signal.SIGINT))  # as a shell reports it


def leave(code: int) -> NoReturn:
    """Exit with ``code``. An HDF5 file whose write failed (Keras's backup, as the disk filled)
    stays open however it is closed, and HDF5 tries again as the interpreter ends: a traceback for
    each of its objects, and at times a segmentation fault (exit code 139) instead of ``code``. With
    one open, the exit handlers run (a sweep's run is ended there) and the process leaves without
    the interpreter's end."""
    h5f = getattr(sys.modules.get("h5py"), "h5f", None)
    if h5f is not None and h5f.get_obj_ids(types=h5f.OBJ_ALL & ~h5f.OBJ_DATATYPE):
        exit_now(code)
    sys.exit(code)


def exit_now(code: int) -> NoReturn:
    """Out of the process as the interpreter would leave it, less its end: exit handlers run
    (MLflow's, logging's, the sweep's), output is flushed, and the modules are not freed."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_command(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> NoReturn:
    """The top of each ``python -m runner...`` command: ``fn``, then ``exit_now`` with its exit code.
    The interpreter's end frees TensorFlow's, Keras's, MLflow's and scikit-learn's modules object
    by object: 1-2 s of CPU after every command that imported them (measured on 2 cores), for a
    process that is ending anyway. A thread still to be joined, or an exit message rather than a
    code, leaves the usual way."""
    try:
        fn(*args, **kwargs)
        code = 0
    except SystemExit as stop:
        code = 0 if stop.code is None else stop.code
    others = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
    if others or not isinstance(code, int):
        sys.exit(code)
    exit_now(code)


def sweep_job(train: Callable[[DictConfig], float], cfg: DictConfig) -> float:
    """One job of ``-m``: bad input in it (a value no other job has, say) is its line on stderr
    and a failed job, not the end of the sweep: the other jobs still run."""
    from hydra.core.hydra_config import HydraConfig

    try:
        return train(cfg)
    except Exception as err:
        message = explain(err, overrides())
        if message is None or WANTS_TRACEBACK:
            raise
        this_job = HydraConfig.get()
        job = f"#{this_job.job.num}"  # as Hydra's "Launching" lines number them
        print(f"runner: error: job {job}: {message}", file=sys.stderr)
        record_refusal(cfg, list(this_job.overrides.task), err, message)
        FAILED_JOBS.append(job)
        raise JobFailed(message, job) from None


def train(cfg: DictConfig) -> float:
    """``runner.train.train``, imported only for a job (so not by --help or --cfg job)."""
    from runner.train import train

    return train(cfg)


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from runner.memory import keep_freed_memory

    keep_freed_memory()  # each step's batches and activations reuse memory, no page faults

    if HydraConfig.get().mode == RunMode.MULTIRUN:
        refuse_chdir()  # not a job's failure: its record would be written in its output folder
        from runner import cache

        cache.keep_between_jobs()  # the next job on the same images reads them from memory
        return sweep_job(train, cfg)
    reported(refuse_chdir)
    return reported(train, cfg)


def refuse_chdir() -> None:
    """Hydra's ``hydra.job.chdir=true`` has moved the process into the output folder, before the
    task starts: every relative path would be read from there."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.get().job.chdir:
        raise RunnerError(
            "hydra.job.chdir=true: would read data.path, tracking.uri's sqlite:///mlflow.db and "
            "every other relative path from inside this run's output folder, where none of them is. "
            "Drop it: the runner writes its log and checkpoints into that folder anyway."
        )


def main() -> None:
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let composition errors reach `reported`
    sys.argv = expand_home(sys.argv)
    reported(refuse_bad_options, sys.argv[1:])
    reported(register_configs)
    reported(_hydra_main)


if __name__ == "__main__":
    run_command(main)
