"""``python -m runner [overrides]``: compose the config, call ``train``, report bad input in one line.

TensorFlow and MLflow are imported only inside ``train``, so ``--help`` and ``--cfg job`` stay fast.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from typing import Any

import hydra
from omegaconf import DictConfig

from runner.config import CONF_DIR, register_configs
from runner.errors import explain

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


def reported(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn``; bad input ends the process with one line on stderr and exit code 2."""
    try:
        return fn(*args)
    except KeyboardInterrupt:
        if WANTS_TRACEBACK:
            raise
    except Exception as err:
        message = explain(err, [arg for arg in sys.argv[1:] if "=" in arg or arg.startswith("~")])
        if message is None or WANTS_TRACEBACK:
            raise
        print(f"runner: error: {message}", file=sys.stderr)
        sys.exit(2)
    # Interrupted. Out of the except block the traceback is gone, and with it the frames that held
    # TensorFlow's iterators: collected now, their threads stop before the interpreter tears down
    # (exiting with them alive can crash it).
    gc.collect()
    print(
        "runner: interrupted; a run that had started is marked KILLED in MLflow, with its log and "
        "last checkpoint (python -m runner.rerun RUN_ID --resume continues it)",
        file=sys.stderr,
    )
    sys.exit(130)  # 128 + SIGINT, as a shell reports Ctrl-C


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> float:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # TensorFlow's C++ INFO lines are noise here
    from runner.train import train

    return reported(train, cfg)


def main() -> None:
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let composition errors reach `reported`
    sys.argv = expand_home(sys.argv)
    reported(register_configs)
    reported(_hydra_main)


if __name__ == "__main__":
    main()
