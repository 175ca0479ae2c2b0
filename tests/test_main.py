"""The CLI's fast paths and its one-line errors for bad input."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from conftest import COLOURS, client, error_lines, mlflow_runs, photo_folder, probe_cli, run_cli
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("args", [["--help"], ["--cfg", "job"], ["data=dir", "aug=flip", "--cfg", "job"]])
def test_help_and_cfg_do_not_import_tensorflow(args, tmp_path):
    output, heavy = probe_cli(*args, cwd=tmp_path)
    assert heavy == []
    assert ("Powered by Hydra" in output) == (args == ["--help"])
    if args == ["--help"]:  # what to type, the groups' options, and the other commands
        assert output.startswith("python -m runner [GROUP=OPTION] [KEY=VALUE ...]: train")
        assert "data: digits, dir, generator, glob" in output
        assert "A past run: python -m runner.rerun RUN_ID [--resume]" in output
        commands = set(re.findall(r"runner\.([a-z_]+)", output))
        assert {"predict", "check", "bench", "caches", "lr_find"} <= commands
        assert all(importlib.util.find_spec(f"runner.{name}") for name in commands), commands


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["trainer.epochs=0"], ["trainer.epochs=0: must be at least 1"]),
        (["data=dir"], ["data.path", "needs a value"]),
        (["data.batch_size=0"], ["data.batch_size=0: must be at least 1"]),
        (["model.dropout=1.5"], ["model.dropout=1.5: must be at least 0 and less than 1"]),
        (["model=file"], ["model.path", "needs a value"]),
        (
            ["tracking.register_as=digits", "tracking.log_model=false"],
            ["tracking.register_as=digits: registers the logged model", "Drop one"],
        ),
        (["data.image_size=[100000,100000]"], ["the disk cache needs"]),  # petabytes
        (["data.cache=disk", "data.cache_dir=/dev/null/cache"], ["data.cache_dir=/dev/null/cache"]),
        (["data.validation_split=0"], ["trainer.monitor=val_accuracy"]),  # the default
        (
            ["trainer.optimizer._target_=os.system"],
            ["trainer.optimizer._target_=os.system: not allowed", "keras.optimizers.*"],
        ),
        (["trainer.top_k=10"], ["trainer.top_k=10"]),  # digits has 10 classes
        (["data.label_mode=binary"], ["data.label_mode=binary needs exactly 2 classes"]),  # ... not 2
        (["trainer.optimizer=sgd"], ["trainer.optimizer._target_=keras.optimizers.SGD"]),
        (
            ["+trainer.patience=3"],
            ["+trainer.patience: no such key", "Did you mean 'trainer.early_stopping_patience'?"],
        ),
        (["hydra.job.chdir=true"], ["hydra.job.chdir=true: would read data.path", "Drop it"]),
        (  # would be ignored, and the images labelled by their folders' names
            ["data=glob", "data.pattern=/photos/*.jpg", "data.labels_csv=/photos/ages.csv"],
            [
                "data.labels_csv='/photos/ages.csv' is read only with data.labels_from=csv",
                "labels each image by its folder's name (data.labels_from=parent)",
                "Add data.labels_from=csv",
            ],
        ),
        (
            ["data=glob", "data.pattern=/p/*.jpg", "data.labels_from=csv", "data.label_regex=x"],
            ["data.label_regex='x' is read only with data.labels_from=regex", "Add data.labels_from=regex"],
        ),
        (  # hydra.sweeper.direction refers to trainer.monitor, which Hydra leaves out here
            ["experiment=tune", "--cfg", "hydra", "--resolve"],
            ["Interpolation key 'trainer.monitor' not found", "Use --cfg all --resolve"],
        ),
        (
            ["data=glob", "data.pattern=/p/*.jpg", "data.split_column=fold"],
            ["data.split_column='fold' is read only with data.labels_from=csv"],
        ),
    ],
)
def test_bad_values_are_refused_in_one_line_before_tensorflow_starts(args, expected, tmp_path):
    output, heavy = probe_cli(*args, cwd=tmp_path)
    [line] = [line for line in output.splitlines() if line.startswith("runner: error:")]
    assert all(fragment in line for fragment in expected) and heavy == [], line


PRESETS = {
    "digits_smoke": {"trainer.epochs": 2, "model.dense": 32},
    "photos": {"data._target_": "runner.sources.DirSource", "data.image_size": [96, 96]},
    "transfer": {
        "model.weights": "imagenet",
        "trainer.lr_schedule": "cosine",
        "aug.ops.flip.mode": "horizontal",
    },
    "finetune": {
        "model.unfreeze": True,
        "trainer.optimizer.learning_rate": 1e-5,
        "data.image_size": [160, 160],
    },
    "tune": {"hydra.sweeper.n_trials": 20, "hydra.sweeper.direction": "maximize"},
    "cv": {"data.folds": 5, "hydra.sweeper.params": {"data.fold": "range(5)"}},
    "multilabel": {
        "data.label_mode": "multi_hot",
        "trainer.monitor": "val_auc",
        "aug.ops.flip.mode": "horizontal",
    },
    "regression": {"data.label_mode": "regression", "trainer.monitor": "val_mae"},
}
# What each preset needs from its command (its header comment's), if not data.path.
FROM_A_CSV = ("data.pattern=/photos/*.jpg", "data.labels_csv=/photos/labels.csv")
NEEDS = {"multilabel": FROM_A_CSV, "regression": FROM_A_CSV}


@pytest.mark.parametrize("name", PRESETS)
def test_every_experiment_composes(name, tmp_path):
    assert {path.stem for path in (REPO / "experiments").glob("*.yaml")} == set(PRESETS)
    needs = NEEDS.get(name, ("data.path=/photos",))
    result = run_cli(f"experiment={name}", *needs, "--cfg", "all", "--resolve", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    cfg = OmegaConf.create(result.stdout)
    assert {key: OmegaConf.select(cfg, key) for key in PRESETS[name]} == PRESETS[name]


@pytest.mark.parametrize(
    ("monitor", "direction"),
    [
        ("val_accuracy", "maximize"),
        ("val_loss", "minimize"),
    ],
)
def test_the_tune_preset_optimises_the_monitor_the_way_it_is_better(monitor, direction, tmp_path):
    result = run_cli(
        "experiment=tune", f"trainer.monitor={monitor}", "--cfg", "all", "--resolve", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert OmegaConf.create(result.stdout).hydra.sweeper.direction == direction


def test_runs_started_in_the_same_second_get_output_folders_of_their_own(tmp_path):
    # Hydra's default folder is named to the second: two runs a shell loop starts at once shared
    # it, and each other's log, checkpoints and backup (one reported the other's best epoch).
    command = [sys.executable, "-m", "runner", "--cfg", "hydra", "--resolve"]
    started = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    hydra = [OmegaConf.create(process.communicate(timeout=60)[0]).hydra for process in started]
    for process, config in zip(started, hydra, strict=True):
        for folder in (config.run.dir, config.sweep.dir):
            assert folder.endswith(f"-{process.pid}")


def test_cfg_job_shows_the_composed_config(tmp_path):
    result = run_cli("data=dir", "data.path=/photos", "aug=flip", "--cfg", "job", cwd=tmp_path)
    assert result.returncode == 0
    assert "path: /photos" in result.stdout
    assert "_target_: keras.layers.RandomFlip" in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["aug=flpi"], ["aug=flpi", "flip, idg, mixup, none", "Did you mean 'flip'?"]),
        (["trainer.epochz=3"], ["trainer.epochz", "Did you mean 'epochs'?"]),
        # A key of another group, or under another tool's name: where the runner has it.
        (["epochs=3"], ["error: epochs: unknown key. Did you mean 'trainer.epochs'? Valid keys here: "]),
        (
            ["trainer.learning_rate=0.1"],
            ["trainer.learning_rate: unknown key. Did you mean 'trainer.optimizer.learning_rate'?"],
        ),
        (
            ["data.epochs=3"],
            [
                "data.epochs: runner.sources.DigitsSource has no parameter 'epochs'. "
                "Did you mean 'trainer.epochs'?"
            ],
        ),
        (
            ["trainer.optimizer.lr=0.1"],
            ["keras.optimizers.Adam has no parameter 'lr'. Did you mean 'trainer.optimizer.learning_rate'?"],
        ),
        (["data=digits", "tracking.uri=./mlruns"], ["error: tracking.uri=./mlruns: ", "sqlite:///mlflow.db"]),
        (["data=digits", "tracking.experiment="], ["error: tracking.experiment='': ", "needs a name"]),
        # A sweep whose store refuses it stops before any job (each job would fail alike).
        (["-m", "data=digits", "tracking.experiment="], ["error: tracking.experiment='': ", "needs a name"]),
        (
            ["data=glob", "data.label_regex=^(x)"],
            ["data.label_regex=^(x): Hydra cannot read the value", """'data.label_regex="^(x)"'"""],
        ),
        (
            [
                "data=digits",
                "trainer.optimizer._target_=keras.optimizers.SGD",
                "+trainer.optimizer.momentm=0.9",
            ],
            ["trainer.optimizer.momentm: keras.optimizers.SGD has no parameter", "Did you mean 'momentum'?"],
        ),
        # What the runner passes a model itself (input_shape, num_classes, ...) is not offered.
        (
            ["data=digits", "model=application", "model.dense=64"],
            [
                "model.dense: runner.models.application has no parameter 'dense'. It is a key of "
                "model=small_cnn: choose it, e.g. model=small_cnn model.dense=... It takes: name, weights, "
            ],
        ),
        (
            ["data=digits", "+aug.ops.code={_target_: keras.layers.Lambda, function: print}"],
            ["aug.ops.code._target_=keras.layers.Lambda: not allowed; it runs Python code"],
        ),
        # Hydra printed its usage and "unrecognized arguments", or a ValueError's traceback.
        (["--cgf", "job"], ["unrecognized option --cgf. Did you mean '--cfg'? Its options: --help, "]),
        (["--resume"], ["--resume: the training command starts a new run. To continue an unfinished "]),
        (["-m", "trainer.seed=1,2", "--cfg", "job"], ["--multirun and --cfg: Hydra takes one of --run, "]),
    ],
)
def test_bad_config_is_one_line(args, expected, tmp_path):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    [line] = error_lines(result)
    for fragment in expected:
        assert fragment in line


def test_missing_data_path_names_it_and_the_folder_it_may_mean(tmp_path):
    (tmp_path / "data" / "pets" / "cat").mkdir(parents=True)
    missing = tmp_path / "data" / "pest" / "cat"  # a typo
    result = run_cli("data=dir", f"data.path={missing}", cwd=tmp_path, new_store=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert f"data.path: '{missing}' does not exist. Did you mean '{tmp_path / 'data/pets/cat'}'?" in line
    assert not (tmp_path / "mlflow.db").exists()  # nothing to record: the run never started


@pytest.mark.parametrize("given", ["absolute", "."])
def test_digits_never_write_into_a_folder_of_the_users(given, tmp_path):
    # data.path=~/pets without data=dir: the default data=digits would write its digits there.
    # (It once deleted such a folder as a half-written set of digits.)
    pets = photo_folder(tmp_path / "pets", per_class=2)

    def files() -> list[Path]:  # less Hydra's outputs/, which it writes into the working directory
        return sorted(
            p.relative_to(pets) for p in pets.rglob("*") if p.relative_to(pets).parts[0] != "outputs"
        )

    before = files()
    path = str(pets) if given == "absolute" else "."
    result = run_cli(f"data.path={path}", cwd=pets if given == "." else tmp_path, new_store=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert f"data.path={path}: data=digits writes" in line and f"use data=dir data.path={path}" in line
    assert files() == before


def test_a_data_path_holding_the_working_directory_is_refused(tmp_path):
    # Each run writes outputs/ and mlruns/ (PNG plots) where it runs: they would become classes.
    pets = photo_folder(tmp_path / "pets", per_class=2)
    result = run_cli("data=dir", "data.path=.", cwd=pets, new_store=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert f"data.path=.: '{pets}' holds the folder this command runs in" in line
    assert f"cd {tmp_path} && python -m runner data=dir data.path=pets" in line
    assert f"data.class_names=[{','.join(sorted(COLOURS))}]" in line  # not outputs


def test_a_cache_dir_that_cannot_be_made_says_what_to_do(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    cache_dir = tmp_path / "a-file" / "cache"
    result = run_cli("data=digits", "data.cache=disk", f"data.cache_dir={cache_dir}", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert f"data.cache_dir={cache_dir}" in line and "data.cache=memory" in line


@pytest.mark.parametrize("mode", ["run", "multirun"])
def test_an_output_folder_that_cannot_be_made_names_the_hydra_key(mode, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    key = "hydra.run.dir" if mode == "run" else "hydra.sweep.dir"
    args = ["-m"] if mode == "multirun" else []
    # Relative for a run: it fails in the working directory, so the example is a full path.
    folder = Path("a-file", "out") if mode == "run" else tmp_path / "a-file" / "out"
    result = run_cli(*args, "data=digits", f"{key}={folder}", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert f"{key}: cannot make the output folder '{folder.parent}" in line
    example = "/tmp/runner/outputs" if mode == "run" else "outputs/run1"
    assert line.endswith(f"Point {key} at a folder you can write, e.g. {key}={example}."), line


def test_bad_input_in_one_job_of_a_sweep_fails_that_job_and_the_others_run(tmp_path):
    # Two kinds of bad input, one per swept key, each refused before its job's run starts: a
    # backbone too big for 16x16 digits by Keras as the model is built; dropout=1.5 before TensorFlow.
    sweep = ["-m", "data=digits", "trainer.epochs=1", "data.batch_size=2000"]  # more than the training images
    sweep += ["model=application,small_cnn", "model.dropout=0.2,0.3,1.5"]
    result = run_cli(*sweep, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    *jobs, summary = error_lines(result)
    assert [line.split(": ")[2] for line in jobs] == ["job #0", "job #1", "job #2", "job #5"]
    assert jobs[0].startswith("runner: error: job #0: model.name=MobileNetV2 (weights=None, data.image_size")
    assert "Input size must be at least 32x32" in jobs[0]
    assert "model.dropout=1.5: must be at least 0 and less than 1" in jobs[2]
    assert summary == "runner: error: 4 jobs of this sweep failed (#0, #1, #2, #5; each one's line is above)."
    # Every job has its run, nested under the sweep's, the refused ones too (made for them).
    runs = mlflow_runs(tmp_path)
    assert [run.info.status for run in runs] == ["FAILED"] * 3 + ["FINISHED"] * 2 + ["FAILED"]
    for run, line in zip([*runs[:3], runs[5]], jobs, strict=True):
        assert run.data.tags["runner.error"] == line.split(": ", 3)[3]
    first, second, refused = runs[3], runs[4], runs[2]
    overrides = json.loads(refused.data.tags["runner.overrides"])
    assert overrides == [
        "data=digits",
        "trainer.epochs=1",
        "data.batch_size=2000",
        "model=application",
        "model.dropout=1.5",
    ]
    assert refused.data.tags["runner.command"] == "python -m runner " + " ".join(overrides)
    assert first.info.run_name != second.info.run_name  # named at random, whatever trainer.seed
    # Job #4 read the images job #3 decoded: the same files, the same size.
    log = Path(tmp_path, second.data.tags["runner.output_dir"], "runner.log").read_text()
    assert "reusing the 1797 images this process decoded for an earlier job of the sweep" in log
    # Each job warns that its batch is its whole training set; the console says so once.
    warned = "data.batch_size=2000 is more than the 1437 training images"
    assert warned in log and (result.stdout + result.stderr).count(warned) == 1
    # The sweep is a run of its own; one job failed, so it did.
    [sweep_run] = mlflow_runs(tmp_path, sweeps=True)
    assert sweep_run.info.status == "FAILED"
    assert {run.data.tags["mlflow.parentRunId"] for run in runs} == {sweep_run.info.run_id}
    assert sweep_run.data.tags["runner.command"] == "python -m runner " + " ".join(sweep)
    path = client(tmp_path).download_artifacts(sweep_run.info.run_id, "sweep/summary.csv", str(tmp_path))
    header, *rows = Path(path).read_text().splitlines()
    best, failed = rows[:2], rows[2:]
    assert header == "rank,val_accuracy,status,run_id,overrides"

    def differing(run) -> str:  # the overrides that differ between jobs: all but the first three
        return " ".join(json.loads(run.data.tags["runner.overrides"])[3:])

    # Best first (the two may tie: one epoch on digits), each with its own value.
    values = {run.info.run_id: run.data.metrics["final_val_accuracy"] for run in (first, second)}
    assert [row.split(",")[:3] for row in best] == [
        ["1", str(max(values.values())), "FINISHED"],
        ["2", str(min(values.values())), "FINISHED"],
    ]
    assert sorted(row.split(",", 2)[2] for row in best) == sorted(
        f"FINISHED,{run.info.run_id},{differing(run)}" for run in (first, second)
    )
    assert sweep_run.data.tags["runner.best_run"] == best[0].split(",")[3]
    assert sorted(row.split(",", 1)[1] for row in failed) == sorted(
        f",FAILED,{run.info.run_id},{differing(run)}" for run in (*runs[:3], runs[5])
    )
    # Its run holds no model or config: a rerun of it says what to do instead.
    [line] = error_lines(run_cli(sweep_run.info.run_id, cwd=tmp_path, module="runner.rerun"))
    assert f"run {sweep_run.info.run_id} is a sweep, not a training run" in line
    assert f"{best[0].split(',')[3]} is its best" in line
    again = sweep_run.data.tags["runner.command"]
    assert f"again: {again}, or continue it" in line
    assert line.endswith(f"{again} tracking.resume={sweep_run.info.run_id}")
    assert f"FAILED  model=small_cnn model.dropout=1.5  run {runs[5].info.run_id}" in result.stderr


def test_a_cache_too_big_for_the_disk_is_refused_before_decoding(tmp_path):
    args = ["data=digits", "data.image_size=[100000,100000]", f"data.cache_dir={tmp_path / 'cache'}"]
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert f"data.cache_dir={tmp_path / 'cache'}: the disk cache needs" in line
    assert "1,797 images of 100000×100000×1 bytes" in line  # digits are grayscale
    assert not (tmp_path / "cache").exists()


def test_folder_without_images_names_folder_and_extensions(tmp_path):
    (tmp_path / "data" / "cats").mkdir(parents=True)
    (tmp_path / "data" / "cats" / "notes.txt").write_text("not an image")
    result = run_cli("data=dir", f"data.path={tmp_path / 'data'}", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert str(tmp_path / "data") in line and "jpg, jpeg, png" in line


def test_tilde_in_a_value_means_home(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "runner", "data=dir", "data.path=~/pets", "--cfg", "job"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert f"path: {tmp_path}/pets" in result.stdout


def test_a_wheel_install_runs_without_the_checkout(tmp_path):
    """``pip install .`` (not ``-e``): the wheel carries every module and every YAML file, and a
    run from it records the runner's version rather than a git commit."""
    source = tmp_path / "source"  # built from a copy: a build writes build/ and *.egg-info in place
    for name in ("runner", "conf", "experiments"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            "dist",
            str(source),
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    [wheel] = (tmp_path / "dist").glob("runner-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
        held = {name for name in archive.namelist() if name.endswith((".py", ".yaml"))}
    checkout = {
        f"runner/{path.relative_to(REPO).as_posix().removeprefix('runner/')}"
        for pattern in ("runner/**/*.py", "conf/**/*.yaml", "experiments/*.yaml")
        for path in REPO.glob(pattern)
    }
    assert held == checkout

    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONUNBUFFERED": "1"}
    where = subprocess.run(
        [sys.executable, "-c", "import runner.config as c; print(c.__file__, c.CONF_DIR, c.CHECKOUT)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert where == [str(site / "runner" / "config.py"), str(site / "runner" / "conf"), "None"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "runner",
            "experiment=digits_smoke",
            "trainer.epochs=1",
            f"data.path={tmp_path / 'digits'}",
            "tracking.experiment=runner",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [run] = mlflow_runs(work)
    assert run.data.params["model.dense"] == "32"  # from experiments/digits_smoke.yaml
    assert json.loads(run.data.tags["runner.versions"])["runner"] == "0.1.0"
    assert "runner.git_commit" not in run.data.tags


def test_a_sweeper_left_with_no_result_by_its_failed_jobs_says_so_in_one_line(capsys, monkeypatch):
    # Optuna's study, every trial of which failed, asks for its best trial: a ValueError.
    from conftest import refusal

    from runner import __main__ as entry

    def sweep() -> None:
        raise ValueError("No trials are completed yet.")

    with pytest.raises(ValueError):  # with no job failed first, a bug's traceback stays
        entry.reported(sweep)
    monkeypatch.setattr(entry, "FAILED_JOBS", ["#0", "#1"])
    assert refusal(lambda argv: entry.reported(sweep), [], capsys) == (
        "runner: error: 2 jobs of this sweep failed (#0, #1; each one's line is above), and the "
        "sweeper stopped on it: No trials are completed yet."
    )


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
@pytest.mark.parametrize("trains", [True, False])
def test_sigterm_or_sighup_ends_a_command_as_ctrl_c_does_with_the_code_a_shell_gives_it(
    sig, code, trains, capsys
):
    # A scheduler's stop, a lost ssh session: a run is marked KILLED on the way out
    # (tests/test_rerun.py), and said; runner.check, predict, evaluate and export train nothing.
    from runner import __main__ as entry

    def signalled() -> None:
        os.kill(os.getpid(), sig)  # Python's default would end this process here
        time.sleep(60)

    with pytest.raises(SystemExit) as ended:
        entry.reported(signalled, trains=trains)
    assert ended.value.code == code  # 128 + the signal; Ctrl-C's is 130
    said = "; its MLflow run had not started, so there is nothing to resume" if trains else ""
    assert capsys.readouterr().err == f"runner: stopped by {sig.name}{said}\n"
    assert signal.getsignal(sig) is signal.SIG_DFL  # as it was before the command


def test_a_sweep_interrupted_while_its_jobs_ran_in_workers_says_its_runs_are_marked(capsys, monkeypatch):
    # hydra/launcher=joblib: the sweep's own process holds no job's run; its ranking follows.
    from runner import __main__ as entry

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setenv("RUNNER_SWEEP_RUN", "0123abcd")
    again = "python -m runner -m hydra/launcher=joblib x=1,2 tracking.resume=0123abcd"
    monkeypatch.setattr(entry, "RESUME_WITH", [again])  # as the sweep's start set it
    with pytest.raises(SystemExit) as ended:
        entry.reported(interrupted)
    assert ended.value.code == 130
    assert capsys.readouterr().err == (
        "runner: interrupted; the sweep's run and its unfinished jobs' runs are marked KILLED in "
        f"MLflow (below); {again} continues the sweep\n"
    )


def test_an_error_after_an_hdf5_write_failed_still_ends_in_one_line_and_its_exit_code(tmp_path):
    # Keras's backup written as the disk filled: HDF5 keeps the file open and tried to close it
    # again as Python ended, printing a traceback per object and at times crashing (exit 139).
    script = """
import resource, signal, sys
import keras
from runner.__main__ import reported
from runner.errors import RunnerError

def back_up():
    model = keras.Sequential([keras.Input((100,)), keras.layers.Dense(200)])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    try:
        model.save_weights(sys.argv[1])
    except OSError as err:
        raise RunnerError(f"{sys.argv[1]}: cannot write it") from err

reported(back_up)
"""
    weights = tmp_path / "latest.weights.h5"
    result = subprocess.run([sys.executable, "-c", script, str(weights)], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr[-2000:]
    assert error_lines(result) == [f"runner: error: {weights}: cannot write it"]
    assert "Traceback" not in result.stderr


TORN_DOWN = """
import atexit, sys, threading, time
from runner.__main__ import run_command

class Module:  # a module's object: freed, and said, only as the interpreter ends
    def __del__(self):
        print("torn down", flush=True)

held = Module()
atexit.register(print, "exit handler")

def command():
    if sys.argv[1] == "thread":  # still running as the command returns: joined first
        threading.Thread(target=time.sleep, args=(0.5,)).start()
    print("done")
    sys.exit(int(sys.argv[2]))

run_command(command)
"""


@pytest.mark.parametrize(("case", "code"), [("quick", 0), ("quick", 3), ("thread", 2)])
def test_a_command_leaves_with_its_code_and_output_without_the_interpreters_end(case, code):
    # The interpreter's end frees every module's objects: seconds of CPU after a run for nothing.
    result = subprocess.run(
        [sys.executable, "-c", TORN_DOWN, case, str(code)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == code, result.stderr
    ended = ["done", "exit handler"] + (["torn down"] if case == "thread" else [])
    assert result.stdout.splitlines() == ended  # piped output flushed; a thread is waited for
