"""`python -m runner` end to end: a real fit, read back from a real MLflow store."""

from __future__ import annotations

import csv
import io
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest
import yaml
from conftest import (
    client,
    compose,
    corrupt_jpeg,
    error_lines,
    logged_model,
    mlflow_runs,
    photo_folder,
    run_cli,
    train_here,
)
from PIL import Image

from runner import provenance
from runner.preview import TILE
from runner.scores import MISTAKES

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """The README's first command, in an empty working directory (digits written under it)."""
    cwd = tmp_path_factory.mktemp("digits-run")
    result = run_cli(f"data.path={cwd / 'digits'}", cwd=cwd, new_store=True)  # MLflow makes its tables
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd


def test_calibrated_probabilities_are_the_runs_at_the_temperature_it_fitted(digits_run, capsys):
    from runner.calibration import TEMPERATURES, scaled, temperature_of
    from runner.predict import main

    [run] = mlflow_runs(digits_run)
    heat = run.data.metrics["final_val_temperature"]
    assert heat != 1.0 and TEMPERATURES[0] < heat < TEMPERATURES[-1]  # not at an end of the search
    split = client(digits_run).download_artifacts(run.info.run_id, "data/split.csv", str(digits_run))
    val = [row for row in csv.DictReader(Path(split).read_text().splitlines()) if row["split"] == "val"]
    files = [row["path"] for row in val]

    def said(*flags: str) -> np.ndarray:  # each validation file's ten probabilities, in class order
        capsys.readouterr()
        main(
            [
                run.info.run_id,
                *files,
                "--top",
                "10",
                *flags,
                "--tracking-uri",
                client(digits_run).tracking_uri,
            ]
        )
        table = np.zeros((len(files), 10))
        for row in csv.DictReader(io.StringIO(capsys.readouterr().out)):
            table[files.index(row["path"]), int(row["class"])] = float(row["probability"])
        return table

    plain, calibrated = said(), said("--calibrated")
    assert calibrated == pytest.approx(scaled(plain, heat), abs=2e-5)
    assert (calibrated.argmax(axis=1) == plain.argmax(axis=1)).all()  # the same predictions
    # The likeliest temperature for the validation images' true classes (within a step of its
    # search: these probabilities are predict's, to six decimals).
    truth = np.array([int(row["label"]) for row in val])
    assert temperature_of(plain, truth) == pytest.approx(heat, rel=0.026)
    # The export says it, for a serving side that wants the same probabilities.
    from runner.export import main as export

    export(
        [
            run.info.run_id,
            "--out",
            str(digits_run / "export"),
            "--tracking-uri",
            client(digits_run).tracking_uri,
        ]
    )
    assert json.loads((digits_run / "export" / "runner.json").read_text())["temperature"] == heat


def test_digits_run_is_finished_and_accurate(digits_run):
    [run] = mlflow_runs(digits_run)
    assert run.info.status == "FINISHED"
    epochs = int(run.data.params["trainer.epochs"])
    for name in METRICS:
        history = client(digits_run).get_metric_history(run.info.run_id, name)
        assert sorted(m.step for m in history) == list(range(epochs)), name
    # Each metric once: per epoch (val_* too), then the final_* of the best weights.
    final = {"final_val_loss", "final_val_accuracy", "final_val_macro_f1", "final_val_ece"}
    final |= {"final_val_temperature", "final_val_ece_calibrated"}
    assert set(run.data.metrics) == {*METRICS, "learning_rate", *final}
    # Per class: recall and support are the confusion matrix's diagonal and rows; macro F1 their mean.
    folder = Path(client(digits_run).download_artifacts(run.info.run_id, "eval", str(digits_run)))
    with (folder / "confusion_matrix.csv").open() as file:
        matrix = np.array([row[1:] for row in list(csv.reader(file))[1:]], dtype=int)
    with (folder / "per_class.csv").open() as file:
        classes = list(csv.DictReader(file))
    with Image.open(folder / "confusion_matrix.png") as picture:  # the same matrix, drawn for the UI
        assert picture.format == "PNG" and picture.width >= 10 * 40  # ten classes, each readable
    wrong = int(matrix.sum() - np.trace(matrix))
    assert wrong > 0  # 0.98 of 360: a few; the most confident ones drawn, six to a row
    with Image.open(folder / "mistakes.png") as picture:
        assert picture.height == -(-min(wrong, MISTAKES) // 6) * (TILE + 36 + 8)
    assert [int(row["support"]) for row in classes] == matrix.sum(axis=1).tolist()
    recall = np.diag(matrix) / matrix.sum(axis=1)
    assert [float(row["recall"]) for row in classes] == pytest.approx(recall, abs=1e-4)
    f1 = [float(row["f1"]) for row in classes]
    assert run.data.metrics["final_val_macro_f1"] == pytest.approx(np.mean(f1), abs=1e-4)
    # Calibration: every validation image in a bin of its predicted class's probability; the bins'
    # accuracies weigh up to the accuracy, their gaps to the expected calibration error.
    with (folder / "calibration.csv").open() as file:
        bins = [row for row in csv.DictReader(file) if row["images"] != "0"]
    counts = np.array([int(row["images"]) for row in bins])
    said, hits = (np.array([float(row[key]) for row in bins]) for key in ("mean_probability", "accuracy"))
    assert counts.sum() == matrix.sum()
    edges = np.array([[float(end) for end in row["bin"].split("-")] for row in bins])
    assert (edges[:, 0] <= said).all() and (said <= edges[:, 1]).all()  # each bin's own probabilities
    assert (counts * hits).sum() / counts.sum() == pytest.approx(np.trace(matrix) / matrix.sum(), abs=1e-3)
    gaps = (counts * abs(said - hits)).sum() / counts.sum()
    assert run.data.metrics["final_val_ece"] == pytest.approx(gaps, abs=1e-3)
    assert (folder / "calibration.png").exists()
    rates = client(digits_run).get_metric_history(run.info.run_id, "learning_rate")
    assert [(m.step, round(m.value, 9)) for m in rates] == [(epoch, 1e-3) for epoch in range(epochs)]
    history = [m.value for m in client(digits_run).get_metric_history(run.info.run_id, "val_accuracy")]
    assert history[-1] >= 0.90
    # checkpoints/best.keras is the model of the first epoch with the highest val_accuracy.
    record = client(digits_run).download_artifacts(
        run.info.run_id, "outputs/checkpoints/best.json", str(digits_run)
    )
    best = json.loads(Path(record).read_text())
    assert best == {
        "epoch": history.index(max(history)),
        "monitor": "val_accuracy",
        "value": pytest.approx(max(history)),
    }
    # The run's last log lines say what it scored and how to look at it and use it.
    log = client(digits_run).download_artifacts(run.info.run_id, "outputs/runner.log", str(digits_run))
    lines = Path(log).read_text().splitlines()
    last = lines[-2:]
    # ... and before them, the commonest mistakes, as the confusion matrix counts them.
    [said] = [line.split("most often mistaken: ")[1] for line in lines if "most often mistaken" in line]
    wrong = [(matrix[i, j], i, j) for i in range(10) for j in range(10) if i != j and matrix[i, j]]
    top = sorted(wrong, key=lambda w: -w[0])[:3]
    pairs = re.findall(r"'(\d)' (?:taken )?for '(\d)' (\d+) times?", said)
    assert [(int(n), int(i), int(j)) for i, j, n in pairs] == [(int(n), i, j) for n, i, j in top]
    final, at = run.data.metrics["final_val_accuracy"], best["epoch"] + 1
    assert last[0].endswith(
        f"run {run.info.run_id}: val_accuracy {final:.4f} (best {best['value']:.4f} at epoch {at}/{epochs})"
    )
    assert last[1].endswith(
        f"see it: mlflow ui --backend-store-uri sqlite:///mlflow.db; use its model: "
        f"python -m runner.predict {run.info.run_id} PATH... [--best]"
    )


def test_digits_run_records_config_params_and_data(digits_run):
    [run] = mlflow_runs(digits_run)
    params = run.data.params
    assert params["data._target_"] == "runner.sources.DigitsSource"
    assert params["model.filters"] == "[32, 64]"
    assert params["data.count.train"] == "1437" and params["data.count.val"] == "360"
    artifacts = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id,
        tracking_uri=f"sqlite:///{digits_run}/mlflow.db",
        dst_path=str(digits_run / "artifacts"),
    )
    config = yaml.safe_load(Path(artifacts, "config.yaml").read_text())
    assert config["data"]["path"] == str(digits_run / "digits")
    assert config["trainer"]["epochs"] == int(params["trainer.epochs"])
    split = Path(artifacts, "data", "split.csv").read_text().splitlines()
    assert len(split) == 1 + 1797 and split[0] == "path,label,split,bytes"
    path, label, _, size = split[1].split(",")
    assert Path(path).parent.name == label and int(size) == Path(path).stat().st_size  # a resume compares it
    class_names = json.loads(Path(artifacts, "data", "class_names.json").read_text())["class_names"]
    assert class_names == [str(digit) for digit in range(10)]
    assert (digits_run / "artifacts" / "outputs" / ".hydra" / "overrides.yaml").exists()
    versions = json.loads(run.data.tags["runner.versions"])
    assert versions["keras"].startswith("3.") and versions["runner"] == "0.1.0"
    assert ("runner.git_commit" in run.data.tags) == (REPO / ".git").exists()  # a checkout's commit
    assert run.data.tags["runner.cpu"] == provenance.cpu()  # what picks TensorFlow's kernels: runner.rerun
    [dataset] = run.inputs.dataset_inputs
    assert dataset.dataset.name == "digits" and len(dataset.dataset.digest) == 16


def test_digits_model_loads_and_predicts_probabilities(digits_run):
    [run] = mlflow_runs(digits_run)
    model = logged_model(digits_run, run)
    requirements = client(digits_run).download_artifacts(
        run.info.run_id, "model/requirements.txt", str(digits_run)
    )
    pinned = dict(line.split("==") for line in Path(requirements).read_text().split())
    assert pinned["keras"] == keras.__version__ and pinned["mlflow"] == mlflow.__version__
    images = np.random.default_rng(0).integers(0, 255, (5, 16, 16, 1), dtype=np.uint8)
    probabilities = model.predict(images, verbose=0)
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_user_folder_with_flip_and_a_held_out_test_folder(photos, tmp_path):
    held_out = photo_folder(tmp_path / "test", per_class=2)
    corrupt_jpeg(held_out / "cat" / "broken.jpg")
    run = train_here(
        "data=dir",
        f"data.path={photos}",
        f"data.test_path={held_out}",
        "aug=flip",
        "trainer.epochs=2",
        "data.image_size=[32,32]",
        "+tracking.tags.owner=ana",
        "tracking.description=photos with a held-out folder",
        cwd=tmp_path,
    )
    assert run.info.status == "FINISHED"
    assert run.data.tags["owner"] == "ana"  # the user's own tags, and the UI's note
    assert run.data.params["data.count.duplicates"] == "0"  # every file here is its own image
    assert run.data.tags["mlflow.note.content"] == "photos with a held-out folder"
    assert run.data.params["aug.ops.flip._target_"] == "keras.layers.RandomFlip"
    assert run.data.params["data.num_classes"] == "3"
    n_files = sum(1 for p in photos.rglob("*") if p.is_file())
    assert int(run.data.params["data.count.train"]) + int(run.data.params["data.count.val"]) == n_files
    # The held-out folder: split from nothing, evaluated once at the end, its bad file skipped.
    assert run.data.params["data.count.test"] == "6"
    assert 0 <= run.data.metrics["final_test_accuracy"] <= 1 and "final_test_loss" in run.data.metrics
    assert not any(name.startswith("test_") for name in run.data.metrics)  # no per-epoch test metrics
    folder = client(tmp_path).download_artifacts(run.info.run_id, "", str(tmp_path / "artifacts"))
    matrix = Path(folder, "eval", "test_confusion_matrix.csv").read_text().splitlines()[1:]
    assert sum(int(n) for row in matrix for n in row.split(",")[1:]) == 6
    per_class = Path(folder, "eval", "test_per_class.csv").read_text().splitlines()[1:]
    assert sum(int(row.split(",")[-1]) for row in per_class) == 6
    assert 0 <= run.data.metrics["final_test_macro_f1"] <= 1
    tested = [row for row in Path(folder, "data", "split.csv").read_text().splitlines() if ",test," in row]
    assert sorted(row.split(",")[0] for row in tested) == sorted(
        str(p) for p in held_out.rglob("*") if p.is_file() and p.name != "broken.jpg"
    )
    assert str(held_out / "cat" / "broken.jpg") in Path(folder, "data", "skipped.csv").read_text()
    assert Path(folder, "data", "class_counts.csv").read_text().splitlines()[0] == "class,train,val,test"


def test_an_optuna_sweep_that_would_search_for_the_worst_model_is_refused_before_its_first_trial(tmp_path):
    # experiment=tune follows trainer.monitor; a direction given against it is refused.
    result = run_cli(
        "-m", "experiment=tune", "trainer.monitor=val_loss", "hydra.sweeper.direction=maximize", cwd=tmp_path
    )
    assert result.returncode == 2 and error_lines(result) == [
        "runner: error: hydra.sweeper.direction=maximize: trainer.monitor=val_loss is better lower, so "
        "the sweeper would search for the worst model. Add hydra.sweeper.direction=minimize."
    ]
    assert mlflow_runs(tmp_path) == mlflow_runs(tmp_path, sweeps=True) == []  # no sweep run, no trial


def test_optuna_sweep_maximises_what_train_returns_past_a_diverged_trial(tmp_path):
    # With seed 42 the first trial draws the rate that diverges: it fails alone, the study goes on.
    result = run_cli(
        "-m",
        "experiment=tune",
        "hydra.sweeper.n_trials=2",
        "hydra.sweep.dir=sweep",
        "trainer.optimizer.learning_rate=choice(0.001,10000000)",
        f"data.path={tmp_path / 'digits'}",
        "trainer.epochs=1",
        "tracking.log_model=false",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [line] = error_lines(result)
    assert line.startswith("runner: error: job #0: the loss became nan in epoch 1: training diverged")
    runs = mlflow_runs(tmp_path)
    diverged, best = sorted(runs, key=lambda run: run.info.status != "FAILED")
    assert (diverged.info.status, best.info.status) == ("FAILED", "FINISHED")
    assert diverged.data.params["trainer.optimizer.learning_rate"] == "10000000"
    found = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert found["best_value"] == pytest.approx(best.data.metrics["final_val_accuracy"])
    assert found["best_params"] == {
        "trainer.optimizer.learning_rate": 0.001,
        "model.dense": int(best.data.params["model.dense"]),
    }
    # The study is one MLflow run over its trials' runs, with the same best.
    [study] = mlflow_runs(tmp_path, sweeps=True)
    assert study.info.status == "FINISHED" and study.data.tags["runner.best_run"] == best.info.run_id
    assert study.data.metrics["best_val_accuracy"] == pytest.approx(found["best_value"])
    assert {run.data.tags["mlflow.parentRunId"] for run in runs} == {study.info.run_id}
    # Continued with a third trial: the seeded sampler proposes the first two again, the finished
    # one is not run again (its value returned), the diverged one resumes in its run and fails
    # again alone. The third draws the first one's values again: another job, in a run of its own.
    more = [a.replace("n_trials=2", "n_trials=3") for a in result.args[3:]]
    result = run_cli(*more, f"tracking.resume={study.info.run_id}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"run {best.info.run_id} finished this job already (val_accuracy " in result.stdout
    by_start = sorted(mlflow_runs(tmp_path), key=lambda run: (run.info.status, run.info.start_time))
    again, third, kept = by_start
    assert again.info.run_id == diverged.info.run_id and again.data.tags["runner.attempts"] == "2"
    assert kept.info.run_id == best.info.run_id and kept.data.metrics == best.data.metrics
    assert kept.data.tags["runner.attempts"] == "1"
    assert third.data.params["trainer.optimizer.learning_rate"] == "10000000"
    assert third.data.tags["runner.sweep_job"] == "2"
    assert third.data.tags["mlflow.parentRunId"] == study.info.run_id


def test_a_misspelt_optimizer_is_refused_before_its_run_starts(tmp_path):
    result = run_cli(
        f"data.path={tmp_path / 'digits'}", "trainer.optimizer._target_=keras.optimizers.Adamm", cwd=tmp_path
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert "'keras.optimizers' has no 'Adamm'. Did you mean 'Adam'?" in line
    assert mlflow_runs(tmp_path) == []  # a typo is a line, not a FAILED run


def test_failed_run_is_marked_failed_with_its_error_and_log(tmp_path):
    # A rate that makes the loss nan in the first epoch: what only training tells, inside the run.
    args = ("trainer.optimizer.learning_rate=10000000", "trainer.epochs=2", "tracking.log_model=false")
    result = run_cli(f"data.path={tmp_path / 'digits'}", *args, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert line.startswith("runner: error: the loss became nan in epoch 1: training diverged")
    [run] = mlflow_runs(tmp_path)
    assert run.info.status == "FAILED"
    assert run.data.tags["runner.error"] == line.removeprefix("runner: error: ")  # the line the user saw
    logged = [a.path for a in client(tmp_path).list_artifacts(run.info.run_id, "outputs")]
    assert "outputs/runner.log" in logged


def test_plateau_schedule_lowers_the_rate_when_the_monitor_stops_improving(tmp_path):
    from runner.train import train

    cfg = compose(
        f"data.path={tmp_path / 'digits'}",
        "trainer.epochs=3",
        "trainer.lr_schedule=plateau",
        "trainer.plateau_patience=1",
        "trainer.optimizer.learning_rate=1e-9",  # too small to move val_accuracy: a plateau at once
        "tracking.log_model=false",
        f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
    )
    train(cfg)
    [run] = mlflow_runs(tmp_path)
    rates = [m.value for m in client(tmp_path).get_metric_history(run.info.run_id, "learning_rate")]
    assert rates == pytest.approx([1e-9, 5e-10, 2.5e-10])  # as each epoch ends: halved after 1 and 2


@pytest.mark.parametrize(
    ("folds", "fold", "says"),
    [
        (5, 5, r"data.fold=5: must be in 0..4 for data.folds=5"),
        (None, 1, "data.fold=1: picks a fold of data.folds, which is unset"),
        (1, 0, "data.folds=1: cross-validation needs at least 2"),
    ],
)
def test_folds_out_of_range_are_refused(folds, fold, says):
    from runner.errors import RunnerError
    from runner.schemas.data import DigitsData

    with pytest.raises(RunnerError, match=says):
        DigitsData(folds=folds, fold=fold)  # as data=digits data.folds=... builds its source


def test_top_k_accuracy_is_reported_monitored_and_evaluated(tmp_path):
    from omegaconf import OmegaConf

    from runner.evaluate import main as evaluate
    from runner.train import train
    from runner.trained import decoder_of

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    cfg = compose(
        f"data.path={tmp_path / 'digits'}",
        "trainer.epochs=1",
        "trainer.top_k=3",
        "trainer.monitor=val_top3_accuracy",
        f"tracking.uri={uri}",
    )
    returned = train(cfg)
    [run] = mlflow_runs(tmp_path)
    logged = run.data.metrics
    assert returned == logged["final_val_top3_accuracy"]
    assert (
        logged["val_top3_accuracy"] >= logged["val_accuracy"]
        and logged["top3_accuracy"] >= logged["accuracy"]
    )
    # runner.evaluate reports it too, for the run's model on a labelled folder.
    folder = tmp_path / "digits"
    evaluate([run.info.run_id, str(folder), "--tracking-uri", uri])
    store = client(tmp_path)
    query = f"tags.`runner.evaluation_of` = '{run.info.run_id}'"
    [scored] = store.search_runs([run.info.experiment_id], query)
    paths = sorted(folder.rglob("*.png"))
    decoder = decoder_of(OmegaConf.to_container(cfg.data, resolve=True, enum_to_str=True))
    probabilities = logged_model(tmp_path, run).predict(np.stack([decoder(str(p)) for p in paths]), verbose=0)
    truth = np.array([int(p.parent.name) for p in paths])  # the digit folders are named 0..9
    hits = (np.argsort(-probabilities, axis=1)[:, :3] == truth[:, None]).any(axis=1)
    assert scored.data.metrics["eval_top3_accuracy"] == pytest.approx(hits.mean())


def test_a_val_monitor_without_validation_images_is_refused(tmp_path):
    # A sweep maximising val_accuracy must not silently get another metric back.
    # Refused once the files are indexed and split, before TensorFlow and before any run.
    result = run_cli(f"data.path={tmp_path / 'digits'}", "data.validation_split=0", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert "trainer.monitor=val_accuracy" in line and "trainer.monitor=accuracy" in line
    assert mlflow_runs(tmp_path) == []


def test_mixed_precision_computes_in_bfloat16_with_float32_probabilities(tmp_path):
    # In this process, as a sweep's jobs share one: Keras's global policy must be float32 after.
    import keras

    from runner.train import train

    cfg = compose(
        f"data.path={tmp_path / 'digits'}",
        "trainer.epochs=1",
        "trainer.precision=mixed_bfloat16",
        f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
    )
    assert train(cfg) > 0.5  # val_accuracy: it learned (chance: 0.1)
    assert keras.mixed_precision.global_policy().name == "float32"
    [run] = mlflow_runs(tmp_path)
    model = logged_model(tmp_path, run)
    conv = next(layer for layer in model.layers if layer.name.startswith("conv2d"))
    assert (conv.compute_dtype, conv.variable_dtype) == ("bfloat16", "float32")
    images = np.random.default_rng(0).integers(0, 255, (4, 16, 16, 1), dtype=np.uint8)
    probabilities = model.predict(images, verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_model_placement_augments_in_training_only(photos, tmp_path):
    run = train_here(
        "data=dir",
        f"data.path={photos}",
        "aug=standard",
        "aug.placement=model",
        "trainer.epochs=1",
        "data.image_size=[32,32]",
        cwd=tmp_path,
    )
    artifacts = [a.path for a in client(tmp_path).list_artifacts(run.info.run_id, "aug")]
    assert artifacts == ["aug/preview.png"]
    model = logged_model(tmp_path, run)
    assert any("random_rotation" in layer.name for layer in model.layers)  # the layers are in the model
    images = np.random.default_rng(0).integers(0, 255, (8, 32, 32, 3), dtype=np.uint8)
    np.testing.assert_array_equal(model.predict(images, verbose=0), model.predict(images, verbose=0))


def ctrl_c_after_an_epoch(*args: str, cwd: Path) -> str:
    """``python -m runner ARGS`` interrupted as its first epoch ends (a checkpoint exists); its output."""
    command = [sys.executable, "-m", "runner", *args, f"data.path={cwd / 'digits'}", "trainer.epochs=200"]
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if "val_accuracy" in line:
            break
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 130 and "Traceback" not in output
    return output


def test_ctrl_c_marks_the_run_killed_and_keeps_its_checkpoint_and_log(tmp_path):
    output = ctrl_c_after_an_epoch(cwd=tmp_path)
    [run] = mlflow_runs(tmp_path)
    assert run.info.status == "KILLED"
    assert output.splitlines()[-1] == (  # the run, and the command that continues it
        f"runner: interrupted; run {run.info.run_id} is marked KILLED in MLflow, with its log and "
        f"checkpoints; python -m runner.rerun {run.info.run_id} --resume continues it"
    )
    logged = {a.path for a in client(tmp_path).list_artifacts(run.info.run_id, "outputs/checkpoints")}
    assert logged == {f"outputs/checkpoints/{name}" for name in ("last.keras", "best.keras", "best.json")}


def test_ctrl_c_in_a_sweep_marks_its_run_and_its_jobs_killed(tmp_path):
    output = ctrl_c_after_an_epoch("-m", "model.dense=8,16", cwd=tmp_path)
    [job] = mlflow_runs(tmp_path)  # the second job never started
    assert f"runner: interrupted; run {job.info.run_id} is marked KILLED" in output
    [sweep] = mlflow_runs(tmp_path, sweeps=True)
    assert (job.info.status, sweep.info.status) == ("KILLED", "KILLED")
    assert "runner.best_run" not in sweep.data.tags  # only a job that ran to its end can be best
    assert f"(KILLED)  model.dense=8  run {job.info.run_id}" in output  # its last epoch's value
