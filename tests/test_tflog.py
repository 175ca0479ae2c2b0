"""TensorFlow's start-up lines are held to TF_CPP_MIN_LOG_LEVEL, though absl prints them before it
knows the level."""

import os
import subprocess
import sys

from runner.tflog import ABSL_NOTICE, EIGEN_FALLBACK, kept

ONEDNN = "I0000 00:00:1795807798.055665    6359 port.cc:153] oneDNN custom operations are on.\n"
INFO = "I0000 00:00:1795807798.091935    6359 cpu_feature_guard.cc:227] This TensorFlow binary\n"
WARNING = "W1114 09:32:22.280168   13509 converter.cc:12] Ignored output_format.\n"
STARTUP = f"python's own line\n{ABSL_NOTICE}\n{ONEDNN}{INFO}To enable AVX2...\n{WARNING}  its second line\n"


def test_the_level_drops_absl_lines_below_it_with_their_continuations_and_keeps_the_rest():
    assert kept(STARTUP, 0) == STARTUP
    assert kept(STARTUP, 1) == f"python's own line\n{WARNING}  its second line\n"
    assert kept(STARTUP, 2) == "python's own line\n"


def test_importing_tensorflow_after_the_runner_prints_no_onednn_lines(tmp_path):
    # oneDNN's line is printed where its operations are on: the default on AVX-512, forced here.
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)

    def stderr_of(code: str, **extra: str) -> str:
        python = [sys.executable, "-c", code]
        result = subprocess.run(python, cwd=tmp_path, env={**env, **extra}, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stderr

    # What TensorFlow prints at the runner's level without the runner (2.21: both lines, twice).
    plain = stderr_of("import tensorflow", TF_CPP_MIN_LOG_LEVEL="1")
    assert "oneDNN custom operations are on" in plain and ABSL_NOTICE in plain
    assert stderr_of("import runner, tensorflow") == ""


def test_the_lines_asked_for_are_dropped_at_any_level():
    fallback = (
        f"E0000 00:00:1795878990.803424    3422 util.cc:131] oneDNN supports DT_BOOL {EIGEN_FALLBACK}.\n"
    )
    assert kept(f"{fallback}{WARNING}", 0, dropped=(EIGEN_FALLBACK,)) == WARNING
    assert kept(fallback, 2) == fallback  # an ERROR: kept at the runner's level unless asked


def test_a_multi_label_runs_metrics_keep_tensorflows_boolean_fallback_line_off_its_epochs(tmp_path):
    # Keras's multi-label AUC transposes booleans and int32, and oneDNN (on, forced here) says it
    # cannot, once, naming whichever type its rewrite met first.
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1"}
    update = (
        "import keras, tensorflow as tf\n"
        "auc = keras.metrics.AUC(multi_label=True)\n"
        "tf.function(auc.update_state)(tf.eye(2), tf.fill((2, 2), 0.5))\n"
    )
    plain = subprocess.run(
        [sys.executable, "-c", update], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert plain.returncode == 0 and EIGEN_FALLBACK in plain.stderr
    metrics = "from runner.trainer import LabelMode, fit_metrics\nfit_metrics(LabelMode.multi_hot, None)\n"
    ours = subprocess.run(
        [sys.executable, "-c", metrics + update], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert ours.returncode == 0, ours.stderr[-2000:]
    assert ours.stderr == ""
