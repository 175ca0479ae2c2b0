"""runner: declarative, YAML-configured training for Keras image models, tracked in MLflow."""

import os

# Every command imports this before TensorFlow: its C++ INFO lines are noise on a runner's console.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

__version__ = "0.1.0"
