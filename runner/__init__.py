"""runner: declarative, YAML-configured training for Keras image models, tracked in MLflow."""

__version__ = "0.1.0"
