"""Shared helpers: real image files written with Pillow, the CLI in a subprocess, a real MLflow store."""

from __future__ import annotations

import ast
import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image


def pytest_xdist_auto_num_workers(config) -> int | None:
    """``-n auto`` (pyproject's addopts): one worker per core this process may use, counted as the
    runner counts them (affinity, cgroup quota; not the host's count), at most 4.
    PYTEST_XDIST_AUTO_NUM_WORKERS still decides when set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    from runner.cpus import usable_cores

    return min(4, usable_cores())


# Test files that use the session's trained runs (``trained``, ``multi_trained``,
# ``regression_trained``, ``multi_unsure``: each a model trained by ``train_here``, 3-6 s).
SHARING = dict.fromkeys(["test_evaluate", "test_export", "test_fit", "test_predict"], "trained")


def pytest_xdist_make_scheduler(config, log):
    """pyproject's ``--dist loadfile`` (each test file on one worker, its module fixtures made
    once), with the files in ``SHARING`` on the same worker, so that each of their session's
    trained runs is made once rather than on each worker that runs one of them. (xdist's own
    ``--dist loadgroup`` groups nothing on pytest 9.2: pytest-xdist issue #1386.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            return SHARING.get(Path(file).stem, file)

    return ByFile(config, log)


# Class colours make the tiny photo folders learnable, so a fit on them means something.
COLOURS = {"cat": (220, 60, 40), "dog": (40, 90, 220), "owl": (60, 200, 80)}


def write_image(path: Path, size: tuple[int, int] = (40, 30), colour=(128, 128, 128), mode: str = "RGB"):
    """A noisy image of ``colour``, ``size`` = (width, height), saved in the format of its suffix."""
    rng = np.random.default_rng(zlib.crc32(str(path).encode()))
    width, height = size
    pixels = np.clip(np.array(colour) * 0.8 + rng.integers(0, 50, (height, width, 3)), 0, 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).convert(mode).save(path)
    return path


def photo_folder(root: Path, per_class: int = 12) -> Path:
    """Class folders of JPEGs and PNGs of mixed sizes, like a user's own photos."""
    sizes = [(40, 30), (64, 64), (30, 50), (100, 75)]
    for name, colour in COLOURS.items():
        for i in range(per_class):
            suffix = ".jpg" if i % 2 else ".png"
            write_image(root / name / f"{name}{i:02d}{suffix}", sizes[i % len(sizes)], colour)
    return root


def dir_source(path: Path, **overrides):
    """``data=dir`` on ``path``, as its config builds it."""
    from runner.sources import DirSource

    return DirSource(path=str(path), **overrides)


def squares_folder(root: Path, count: int = 240, separator: str = " ") -> dict[str, set[str]]:
    """``count`` JPEGs of grey noise with a square of each of up to three colours, and
    ``labels.csv`` naming the colours of each (``separator`` between them; empty for none): several
    classes per image, each plain to see. Returns each file's colours."""
    colours = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    truth, lines = {}, ["path,label"]
    for i in range(count):
        pixels = np.full((32, 32, 3), 128, np.uint8) + rng.integers(0, 20, (32, 32, 3), dtype=np.uint8)
        chosen = [name for name in colours if rng.random() < 0.5]
        for name in chosen:
            y, x = rng.integers(0, 22, 2)
            pixels[y : y + 10, x : x + 10] = colours[name]
        Image.fromarray(pixels).save(root / f"{i:03d}.jpg", quality=95)
        truth[f"{i:03d}.jpg"] = set(chosen)
        lines.append(f"{i:03d}.jpg,{separator.join(chosen)}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return truth


def sizes_folder(root: Path, count: int = 240) -> dict[str, float]:
    """``count`` JPEGs of grey noise with a white square of a random side (4-28 of 32 pixels),
    named ``NNN_SIDE.jpg``, and ``labels.csv`` giving each its side: a number per image, plain
    to see. Returns each file's side."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    truth, lines = {}, ["path,label"]
    for i in range(count):
        side = int(rng.integers(4, 29))
        pixels = np.full((32, 32, 3), 60, np.uint8) + rng.integers(0, 20, (32, 32, 3), dtype=np.uint8)
        y, x = rng.integers(0, 33 - side, 2)
        pixels[y : y + side, x : x + side] = 255
        name = f"{i:03d}_{side}.jpg"
        Image.fromarray(pixels).save(root / name, quality=95)
        truth[name] = float(side)
        lines.append(f"{name},{side}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return truth


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@functools.cache
def empty_store() -> Path:
    """An MLflow sqlite store holding its tables and nothing else, made once per test process."""
    import mlflow

    path = Path(tempfile.mkdtemp(prefix="empty-store-")) / "mlflow.db"
    mlflow.MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


def give_store(args: tuple[str, ...], cwd: Path) -> None:
    """An empty store where a run in ``cwd`` records to, unless it names another or one is there:
    MLflow's first connection creates the tables, ~2.5 s of CPU in every fresh folder. Tests pass
    ``new_store=True`` where the run must make its own (the README's first command's test)."""
    if not any(arg.startswith("tracking.uri=") for arg in args) and not (cwd / "mlflow.db").exists():
        shutil.copy(empty_store(), cwd / "mlflow.db")


def run_cli(
    *args: str, cwd: Path, timeout: int = 300, module: str = "runner", new_store: bool = False
) -> subprocess.CompletedProcess:
    """``python -m MODULE ARGS`` as a user runs it, in ``cwd``; a training run records to an empty
    store there (``give_store``) unless ``new_store``."""
    if module == "runner" and not new_store:
        give_store(args, cwd)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def started_run(*args: str, cwd: Path, job: int = 0) -> subprocess.Popen:
    """``python -m runner ARGS`` in ``cwd``, once it (with ``-m``: its job #``job``) has finished
    its first epoch, still running."""
    give_store(args, cwd)
    command = [sys.executable, "-m", "runner", *args]
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started = "-m" not in args
    for line in process.stdout:
        started |= f"\t#{job} : " in line  # Hydra's "Launching" line of that job
        if started and "val_accuracy" in line:  # the end of epoch 0: its backup is written
            return process
    raise AssertionError(f"{' '.join(args)} ended before its first epoch did (exit code {process.wait()})")


# Said by an exit handler: a command leaves through them (``__main__.run_command``), not by
# returning here.
PROBE = """
import atexit, runpy, sys
sys.argv = [{module!r}, *{args!r}]
heavy = lambda: sorted(m for m in ("tensorflow", "keras", "mlflow") if m in sys.modules)
atexit.register(lambda: print("HEAVY:", heavy()))
runpy.run_module({module!r}, run_name="__main__")
"""


def probe_cli(*args: str, cwd: Path, module: str = "runner") -> tuple[str, list[str]]:
    """``python -m MODULE ARGS`` run in-process by a fresh interpreter: (its output, stdout then
    stderr, and the heavy libraries it imported). It ends done (0) or refused (2), not crashed."""
    code = PROBE.format(module=module, args=list(args))
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)
    assert result.returncode in (0, 2), result.stderr[-3000:]
    output, heavy = result.stdout.rsplit("HEAVY:", 1)
    return output + result.stderr, ast.literal_eval(heavy.strip())


def at_once(script: str, gate: Path, copies: int = 2) -> list[list[str]]:
    """The words each of ``copies`` Python processes running ``script`` printed, all released
    together once started (like the first runs of a parallel sweep)."""
    wait = (
        f"import os, time\nprint('ready', flush=True)\n"
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.01)\n"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", wait + script], stdout=subprocess.PIPE, text=True)
        for _ in range(copies)
    ]
    for run in runs:
        assert run.stdout.readline().strip() == "ready"
    gate.touch()
    outputs = [run.communicate(timeout=120)[0].split() for run in runs]
    assert all(run.returncode == 0 for run in runs)
    return outputs


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("runner: error:")]


def refusal(main, argv: list[str], capsys) -> str:
    """The one line a command's ``main(argv)`` prints, in this process, as it exits with code 2."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("runner: error:")]
    assert stopped.value.code == 2, line
    return line


def mlflow_runs(cwd: Path, experiment: str = "runner", sweeps: bool = False) -> list:
    """The training runs in the store under ``cwd``, oldest first; with ``sweeps``, the runs that
    stand for sweeps (their jobs' parents) instead."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{cwd}/mlflow.db")
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time ASC"]) if found else []
    return [run for run in runs if ("runner.sweep_dir" in run.data.tags) == sweeps]


def client(cwd: Path):
    """A client of the store in ``cwd``; where there is none yet, an empty one (``give_store``):
    MLflow's migrations, made afresh in each test's folder, took up to 54 s while the other
    worker's runs kept the disk busy."""
    from mlflow import MlflowClient

    give_store((), cwd)
    return MlflowClient(tracking_uri=f"sqlite:///{cwd}/mlflow.db")


@pytest.fixture(scope="session", autouse=True)
def temp_folder(tmp_path_factory) -> None:
    """Temp files of the tests and of what they run go under pytest's own temp folder, which pytest
    prunes: ``train(cfg)`` outside Hydra writes its outputs to a temp folder (kept, as a run's
    record), ``mlflow.keras.load_model("runs:/...")`` downloads into one it never removes, and the
    empty store lives in one. In /tmp they were ~10 folders, ~30 MB, left by every suite run."""
    folder = str(tmp_path_factory.mktemp("tmp"))
    os.environ["TMPDIR"] = tempfile.tempdir = folder  # the subprocesses', and this process's


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> Path:
    return photo_folder(tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="session")
def trained(photos, tmp_path_factory) -> tuple[Path, str]:
    """A working directory whose store holds a model trained on the photo folder (registered as
    'colours'); its run id. For the modules that use a run's model: predict, evaluate, export
    (trained once per test worker: they read it, and add only runs and aliases of their own)."""
    cwd = tmp_path_factory.mktemp("trained")
    args = ("data=dir", f"data.path={photos}", "data.image_size=[16,16]", "data.validation_split=0")
    run = train_here(
        *args, "trainer.monitor=accuracy", "trainer.epochs=8", "tracking.register_as=colours", cwd=cwd
    )
    return cwd, run.info.run_id


# A run on squares_folder(cwd / "squares", separator="|"), from cwd.
MULTI_LABEL = (
    "data=glob",
    "data.pattern=squares/*.jpg",
    "data.labels_from=csv",
    "data.labels_csv=squares/labels.csv",
    "data.label_mode=multi_hot",
    "data.label_separator=|",
    "data.image_size=[32,32]",
)


@pytest.fixture(scope="session")
def multi_trained(tmp_path_factory) -> tuple[Path, str, dict[str, set[str]]]:
    """A working directory whose store holds a multi-label model (``data.label_mode=multi_hot``,
    classes separated by '|') trained on ``squares_folder`` in ``squares/``; its run id, and each
    file's classes."""
    cwd = tmp_path_factory.mktemp("multi")
    truth = squares_folder(cwd / "squares", separator="|")
    run = train_here(*MULTI_LABEL, "trainer.epochs=8", cwd=cwd)
    return cwd, run.info.run_id, truth


# A run on sizes_folder(cwd / "sizes"), from cwd.
REGRESSION = (
    "data=glob",
    "data.pattern=sizes/*.jpg",
    "data.labels_from=csv",
    "data.labels_csv=sizes/labels.csv",
    "data.label_mode=regression",
    "data.image_size=[32,32]",
    "trainer.monitor=val_mae",
)


@pytest.fixture(scope="session")
def regression_trained(tmp_path_factory) -> tuple[Path, str, dict[str, float]]:
    """A working directory whose store holds a regression model (``data.label_mode=regression``)
    trained on ``sizes_folder`` in ``sizes/``; its run id, and each file's number."""
    cwd = tmp_path_factory.mktemp("regression")
    truth = sizes_folder(cwd / "sizes")
    run = train_here(*REGRESSION, "trainer.epochs=8", cwd=cwd)
    return cwd, run.info.run_id, truth


@pytest.fixture(scope="session")
def multi_unsure(tmp_path_factory) -> tuple[Path, str, dict[str, set[str]]]:
    """``multi_trained`` after 2 epochs: a model still unsure of some classes, whose thresholds
    tuned on the validation images are not all 0.5 (after 8, every class's F1 is 1 at 0.5)."""
    cwd = tmp_path_factory.mktemp("unsure")
    truth = squares_folder(cwd / "squares", separator="|")
    run = train_here(*MULTI_LABEL, "trainer.epochs=2", cwd=cwd)
    return cwd, run.info.run_id, truth


def damaged_copy(photos: Path, folder: Path) -> Path:
    """The photo folder copied to ``folder``, with a corrupt JPEG among the cats."""
    shutil.copytree(photos, folder)
    corrupt_jpeg(folder / "cat" / "corrupt.jpg")
    return folder


def corrupt_jpeg(path: Path) -> Path:
    """A JPEG whose scan data has random bytes written over its middle."""
    write_image(path, (64, 64), (120, 120, 120))
    data = bytearray(path.read_bytes())
    start = data.index(b"\xff\xda") + 200
    data[start : start + 300] = np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def messy_folder(root: Path) -> tuple[Path, set[str], int]:
    """Class folders of good images in every mode, plus bad files; returns (root, bad paths, n good)."""
    good = 0
    for name, colour in list(COLOURS.items())[:2]:
        for i, mode in enumerate(["RGB", "L", "RGBA", "P"] * 2):
            suffix = ".jpg" if mode in ("RGB", "L") and i < 4 else ".png"
            write_image(root / name / f"{mode}{i}{suffix}", (48 + 8 * i, 40), colour, mode)
            good += 1
    bad = {
        root / "cat" / "empty.jpg": lambda p: p.write_bytes(b""),
        root / "cat" / "text.jpg": lambda p: p.write_text("this is not a JPEG"),
        root / "dog" / "truncated.png": lambda p: p.write_bytes(
            write_image(p, (64, 64), (10, 200, 10)).read_bytes()[:300]
        ),
        root / "dog" / "garbage.jpg": corrupt_jpeg,
        root / "dog" / "README.txt": lambda p: p.write_text("notes"),
    }
    for path, make in bad.items():
        make(path)
    return root, {str(p) for p in bad}, good


def compose(*overrides: str):
    """The config ``python -m runner OVERRIDES`` would run, composed by Hydra in-process."""
    from runner.config import compose as compose_config

    return compose_config(list(overrides))


def train_cli(*args: str, cwd: Path):
    """``python -m runner ARGS`` that must succeed; the one MLflow run it made."""
    result = run_cli(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    [run] = mlflow_runs(cwd)
    return run


def train_here(*args: str, cwd: Path):
    """``train(cfg)`` in this process, with the config ``python -m runner ARGS`` composes, run from
    ``cwd`` (its store, its relative paths): the one MLflow run it made. For what a run does, where
    how the command says it is not the point: no interpreter to start, TensorFlow, MLflow and
    scikit-learn to import, ~6 s each here. Its outputs are in a temp folder (``outputs_of``)."""
    from runner.train import train

    give_store(args, cwd)
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        train(compose(*args))
    finally:
        os.chdir(previous)
    [run] = mlflow_runs(cwd)
    return run


def outputs_of(cwd: Path, run) -> Path:
    """The run's output folder (Hydra's, relative to ``cwd``; a temp folder's for ``train_here``)."""
    return Path(cwd, run.data.tags["runner.output_dir"])


def logged_model(cwd: Path, run):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{cwd}/mlflow.db")
    return mlflow.keras.load_model(f"runs:/{run.info.run_id}/model")


def fake_run(cwd: Path, config: dict) -> str:
    """A run in ``cwd``'s store whose config.yaml someone else wrote."""
    found = client(cwd)
    existing = found.get_experiment_by_name("planted")
    experiment = existing.experiment_id if existing else found.create_experiment("planted")
    run = found.create_run(experiment)
    found.log_text(run.info.run_id, yaml.safe_dump(config), "config.yaml")
    return run.info.run_id
