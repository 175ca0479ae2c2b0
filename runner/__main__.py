"""``python -m runner [overrides]``: compose the config, call ``train``, report bad input in one line.

TensorFlow and MLflow are imported only inside ``train``, so ``--help`` and ``--cfg job`` stay fast.
"""

from __future__ import annotations

import os
import sys

import hydra
from omegaconf import DictConfig

from runner.config import CONF_DIR, register_configs
from runner.errors import explain


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> float:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # TensorFlow's C++ INFO lines are noise here
    from runner.train import train

    return train(cfg)


def main() -> None:
    """Run Hydra with errors raised to us, so bad input ends in one line and exit code 2."""
    wants_traceback = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        register_configs()
        _hydra_main()
    except Exception as err:
        message = explain(err)
        if message is None or wants_traceback:
            raise
        print(f"runner: error: {message}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
