"""runner: declarative, YAML-configured training for Keras image models, tracked in MLflow."""

import os

# Every command imports this before TensorFlow: its C++ INFO lines are noise on a runner's console.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from runner import tflog  # noqa: E402 - after the level it reads

tflog.install()  # absl prints oneDNN's start-up INFO lines whatever the level: see tflog

__version__ = "0.1.0"
