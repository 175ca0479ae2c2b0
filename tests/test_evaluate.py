"""`python -m runner.evaluate RUN FOLDER`: a past run's model scored on a labelled folder, as a run."""

from __future__ import annotations

import csv
import io
import math
import shutil
import unicodedata
from pathlib import Path

import pytest
from conftest import (
    COLOURS,
    client,
    damaged_copy,
    error_lines,
    probe_cli,
    refusal,
    run_cli,
    sizes_folder,
    train_here,
    write_image,
)
from PIL import Image

from runner.errors import RunnerError
from runner.sources.evaluated import LEFT_OUT


def evaluate(*args: str, cwd: Path):
    return run_cli(*args, cwd=cwd, module="runner.evaluate")


def test_a_labelled_folder_is_scored_in_a_run_of_its_own(trained, photos, tmp_path, capsys):
    cwd, run_id = trained
    folder = damaged_copy(photos, tmp_path / "later")
    shutil.rmtree(folder / "dog")  # a test set may lack a class
    write_image(folder / "owl" / "odd.png", (60, 60), (20, 20, 20))  # a dark owl: likely a mistake
    result = evaluate("models:/colours/1", str(folder), cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    store = client(cwd)
    [run] = store.search_runs(
        [store.get_run(run_id).info.experiment_id], f"tags.`runner.evaluation_of` = '{run_id}'"
    )
    assert run.info.status == "FINISHED" and run.data.tags["runner.model"] == "final"
    assert run.info.run_name == "evaluate later" and run.data.tags["runner.tta"] == "none"
    assert run.data.tags["runner.temperature"] == "1.0"  # --calibrated: the run's (it fitted none)
    files = Path(store.download_artifacts(run.info.run_id, "", str(tmp_path / "artifacts")))
    rows = list(csv.DictReader((files / "eval" / "predictions.csv").open()))
    good = sorted(str(p) for p in folder.rglob("*.*g") if p.name != "corrupt.jpg")
    assert sorted(row["path"] for row in rows) == good and run.data.params["eval.count"] == str(len(good))
    assert all(row["true"] == Path(row["path"]).parent.name for row in rows)
    right = sum(row["true"] == row["predicted"] for row in rows) / len(rows)
    assert run.data.metrics["eval_accuracy"] == pytest.approx(right)
    assert f"accuracy {right:.4f}" in result.stdout and run.info.run_id in result.stdout
    # The predictions are runner.predict's, on the same files.
    from runner.predict import main  # in this process: no second TensorFlow start

    capsys.readouterr()
    main([run_id, *good, "--tracking-uri", store.tracking_uri])
    expected = {row["path"]: row["class"] for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert {row["path"]: row["predicted"] for row in rows} == expected
    matrix = (files / "eval" / "confusion_matrix.csv").read_text().splitlines()
    assert matrix[0] == "true\\predicted,cat,dog,owl" and matrix[2] == "dog,0,0,0"
    with Image.open(files / "eval" / "confusion_matrix.png") as picture:  # what the MLflow UI shows
        assert picture.format == "PNG" and len(picture.convert("RGB").getcolors(1 << 16)) > 10
    wrong = sum(row["true"] != row["predicted"] for row in rows)
    assert (files / "eval" / "mistakes.png").exists() == (wrong > 0)
    per_class = list(csv.DictReader((files / "eval" / "per_class.csv").open()))
    assert [int(row["support"]) for row in per_class] == [
        sum(row["true"] == name for row in rows) for name in ("cat", "dog", "owl")
    ]
    skipped = list(csv.DictReader((files / "data" / "skipped.csv").open()))
    assert [row["path"] for row in skipped] == [str(folder / "cat" / "corrupt.jpg")]
    # Calibration, from each file's predicted class and its probability: bin k holds (k/10, (k+1)/10].
    bins = [max(math.ceil(float(row["probability"]) * 10) - 1, 0) for row in rows]
    calibration = list(csv.DictReader((files / "eval" / "calibration.csv").open()))
    assert [int(row["images"]) for row in calibration] == [bins.count(k) for k in range(10)]
    gaps = sum(
        abs(
            sum(float(row["probability"]) for row, b in zip(rows, bins, strict=True) if b == k)
            - sum(row["true"] == row["predicted"] for row, b in zip(rows, bins, strict=True) if b == k)
        )
        for k in set(bins)
    )
    assert run.data.metrics["eval_ece"] == pytest.approx(gaps / len(rows), abs=1e-5)


def test_bad_requests_are_one_line_and_help_is_fast(trained, tmp_path, capsys):
    cwd, run_id = trained
    output, heavy = probe_cli("--help", cwd=cwd, module="runner.evaluate")
    assert "FOLDER" in output and heavy == []
    write_image(tmp_path / "labelled" / "bird" / "a.png")
    write_image(tmp_path / "good" / "cat" / "a.png")
    result = evaluate(run_id, str(tmp_path / "labelled"), cwd=cwd)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert "subfolder 'bird' is no class of the model, which knows cat, dog, owl" in line, line
    _, heavy = probe_cli(run_id, str(tmp_path / "labelled"), cwd=cwd, module="runner.evaluate")
    assert heavy == ["mlflow"]  # refused before the model is downloaded and Keras starts
    # The others in this process: the same entry point, its line and exit code, without a new TensorFlow.
    from runner.evaluate import main

    for args, expected in [
        (
            [run_id, str(tmp_path / "missing")],
            "does not exist. Point FOLDER at a folder with one subfolder per class, or a CSV of "
            "path,label rows.",
        ),
        (
            [run_id, str(tmp_path / "good.csv")],
            f"good.csv: no such CSV file. Did you mean '{tmp_path / 'good'}'?",
        ),
        (["models:/nope/1", str(tmp_path / "labelled")], "models:/nope/1: no such registered model version"),
        # A class's own folder (or a flat one): its images are there, not in class subfolders.
        ([run_id, str(tmp_path / "labelled" / "bird")], "It holds 1 image itself, not in subfolders: give"),
        # It trained on no mirrored images: theirs need not be of the class (predict's test has --tta).
        ([run_id, str(tmp_path / "good"), "--tta"], "--tta: averages each image with its mirror image"),
        ([run_id, str(tmp_path / "good"), "--calibrated"], "logged no final_val_temperature"),
    ]:
        line = refusal(main, [*args, "--tracking-uri", client(cwd).tracking_uri], capsys)
        assert expected in line, line


def test_a_labelled_csv_is_scored_too(trained, photos, tmp_path, capsys):
    from runner.evaluate import main  # in this process: the CLI is the folder's test above

    cwd, run_id = trained
    folder = damaged_copy(photos, tmp_path / "kaggle")
    rows = [(str(p.relative_to(folder)), p.parent.name) for p in sorted(folder.rglob("*.*g"))]
    rows.append(("owl/gone.png", "owl"))
    (folder / "test.csv").write_text("file,species\n" + "".join(f"{p},{c}\n" for p, c in rows))
    args = ("--path-column", "file", "--label-column", "species")
    uri = ("--tracking-uri", client(cwd).tracking_uri)
    main([run_id, str(folder / "test.csv"), *args, *uri])
    store = client(cwd)
    [run] = store.search_runs(
        [store.get_run(run_id).info.experiment_id], "attributes.run_name = 'evaluate test.csv'"
    )
    files = Path(store.download_artifacts(run.info.run_id, "", str(tmp_path / "artifacts")))
    predicted = list(csv.DictReader((files / "eval" / "predictions.csv").open()))
    assert sorted((row["path"], row["true"]) for row in predicted) == sorted(
        (str(folder / p), c) for p, c in rows if "corrupt" not in p and "gone" not in p
    )
    skipped = {row["path"] for row in csv.DictReader((files / "data" / "skipped.csv").open())}
    assert skipped == {str(folder / "owl" / "gone.png"), str(folder / "cat" / "corrupt.jpg")}
    (folder / "bird.csv").write_text("file,species\ncat/cat00.png,bird\n")
    line = refusal(main, [run_id, str(folder / "bird.csv"), *args, *uri], capsys)
    assert "label 'bird' is no class of the model, which knows cat, dog, owl" in line


def test_class_names_matplotlib_would_read_as_math_are_drawn_as_they_are(tmp_path):
    # Between two "$" matplotlib reads math: a folder "$\frac{$" stopped the run at its end.
    import mlflow
    import numpy as np
    from conftest import client, empty_store

    from runner.scores import log_evaluation
    from runner.store import connect

    names = ["$\\frac{$", "$5 $10", "a\\$b^_{", "猫"]
    shutil.copy(empty_store(), tmp_path / "mlflow.db")
    connect(f"sqlite:///{tmp_path}/mlflow.db", "runner")
    with mlflow.start_run() as run:
        log_evaluation(names, np.array([0, 1, 2, 3, 3]), np.array([0, 1, 3, 3, 3]))
    files = Path(client(tmp_path).download_artifacts(run.info.run_id, "eval", str(tmp_path / "got")))
    header = (files / "confusion_matrix.csv").read_text().splitlines()[0]
    assert header == "true\\predicted," + ",".join(names)
    with Image.open(files / "confusion_matrix.png") as picture:
        assert picture.format == "PNG"


def test_folders_of_no_class_of_the_model_are_named_in_one_line(tmp_path):
    from runner.sources.evaluated import labelled

    for name in ("bird", "fox", "cat"):
        write_image(tmp_path / name / "a.png")
    with pytest.raises(
        RunnerError, match="subfolders 'bird', 'fox' are no classes of the model, which knows"
    ):
        labelled(tmp_path, ["cat", "dog"])
    for name in ("bird", "fox"):
        shutil.rmtree(tmp_path / name)
    (tmp_path / "empty").mkdir()  # left out, as training leaves an empty class folder out
    (tmp_path / "finder").mkdir()
    (tmp_path / "finder" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    index = labelled(tmp_path, ["cat", "dog"])  # a class with no folder is fine: a test set may lack it
    assert [Path(p).parent.name for p in index.paths] == ["cat"] and index.labels.tolist() == [0]
    # A test folder from a Mac names "café" with an e and an accent; a run trained elsewhere, as one.
    macos = write_image(tmp_path / "mac" / unicodedata.normalize("NFD", "café") / "a.png")
    index = labelled(tmp_path / "mac", [unicodedata.normalize("NFC", "café"), "dog"])
    assert index.paths == [str(macos)] and index.labels.tolist() == [0]


def test_a_folder_is_read_as_its_run_read_its_own_by_data_extensions(tmp_path):
    # A run trained on scans (data.extensions=[tif]) was refused its test folder of scans: "no
    # images", as the test folder was read for the default extensions.
    from runner.sources.evaluated import read

    for name in ("cat", "dog"):
        Image.open(write_image(tmp_path / name / "a.png")).save(tmp_path / name / "a.tif")
    (tmp_path / "cat" / "a.png").unlink()
    index = read(tmp_path, False, "FOLDER: run x", ["cat", "dog"], {"extensions": ["TIF"]}, None)
    assert [Path(p).name for p in index.paths] == ["a.tif", "a.tif"] and index.labels.tolist() == [0, 1]
    assert [Path(p).name for p, _ in index.skipped] == ["a.png"]
    (tmp_path / "dog" / "a.png").unlink()
    with pytest.raises(RunnerError) as refused:
        read(tmp_path, False, "FOLDER: run x", ["cat", "dog"], {"extensions": ["png"]}, None)
    assert str(refused.value).endswith(
        "in the class subfolders cat, dog). There are 2 .tif files of a type the run did not train on."
    )


def test_a_folder_is_read_into_linked_folders_where_its_run_read_its_own_so(tmp_path):
    from runner.sources.evaluated import read

    write_image(tmp_path / "test" / "cat" / "a.png")
    write_image(tmp_path / "elsewhere" / "b.png")
    (tmp_path / "test" / "cat" / "more").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "test" / "cat" / "up").symlink_to(tmp_path / "test")  # a loop: walked once
    index = read(tmp_path / "test", False, "FOLDER: run x", ["cat"], {"follow_links": True}, None)
    assert [Path(p).name for p in index.paths] == ["a.png", "b.png"]
    index = read(tmp_path / "test", False, "FOLDER: run x", ["cat"], {}, None)
    assert [Path(p).name for p in index.paths] == ["a.png"]


def test_a_multi_label_run_is_scored_on_a_csv_of_several_classes_per_image(multi_trained, tmp_path, capsys):
    from runner.evaluate import main

    cwd, run_id, truth = multi_trained
    uri = ("--tracking-uri", client(cwd).tracking_uri)
    main([run_id, str(cwd / "squares" / "labels.csv"), *uri])
    said = capsys.readouterr().out
    store = client(cwd)
    [run] = store.search_runs(
        [store.get_run(run_id).info.experiment_id], "attributes.run_name = 'evaluate labels.csv'"
    )
    accuracy = run.data.metrics["eval_accuracy"]
    assert f"runner: {len(truth)} images (no files skipped): accuracy {accuracy:.4f}" in said
    assert run.data.metrics["eval_macro_f1"] > 0.9  # mostly trained on, so better than validation
    files = Path(store.download_artifacts(run.info.run_id, "eval", str(tmp_path)))
    rows = list(csv.DictReader((files / "predictions.csv").open()))
    assert list(rows[0]) == ["path", "true", "predicted", "blue", "green", "red"]  # each class's probability
    for row in rows:
        assert set(row["true"].split("|")) - {""} == truth[Path(row["path"]).name]  # "": none
        assert {name for name in ("blue", "green", "red") if float(row[name]) >= 0.5} == (
            set(row["predicted"].split("|")) - {""}
        )
    per_class = list(csv.DictReader((files / "per_class.csv").open()))
    assert [int(row["support"]) for row in per_class] == [
        sum(name in classes for classes in truth.values()) for name in ("blue", "green", "red")
    ]
    line = refusal(main, [run_id, str(cwd / "squares"), *uri], capsys)  # folders: one class per image
    assert "is multi-label (data.label_mode=multi_hot), and class folders give one class per image" in line
    assert run.data.tags["runner.thresholds"] == "0.5"


def test_a_multi_label_run_is_scored_at_its_tuned_thresholds(multi_unsure, tmp_path, capsys):
    from runner.evaluate import main

    cwd, run_id, _ = multi_unsure
    store = client(cwd)
    main([run_id, str(cwd / "squares" / "labels.csv"), "--tuned", "--tracking-uri", store.tracking_uri])
    capsys.readouterr()
    [tuned_run] = store.search_runs(
        [store.get_run(run_id).info.experiment_id], "tags.`runner.thresholds` = 'tuned'"
    )
    table = Path(store.download_artifacts(run_id, "eval/thresholds.csv", str(tmp_path / "cut")))
    cut = {row["class"]: float(row["threshold"]) for row in csv.DictReader(table.open())}
    assert set(cut.values()) != {0.5}  # else the test could not tell tuned from 0.5
    files = Path(store.download_artifacts(tuned_run.info.run_id, "eval", str(tmp_path / "tuned")))
    for row in csv.DictReader((files / "predictions.csv").open()):
        said = set(row["predicted"].split("|")) - {""}
        assert said == {name for name in cut if float(row[name]) >= cut[name]}


def test_a_run_that_read_its_classes_from_file_names_reads_a_folders_alike(tmp_path, capsys):
    # Oxford Pets' way (Abyssinian_12.jpg): the class in each file's name, no class folders.
    from runner.evaluate import main

    for name, colour in COLOURS.items():
        for i in range(8):
            write_image(tmp_path / "pets" / f"{name}_{i}.png", colour=colour)
            if i < 2 and name != "owl":  # a test set may lack a class
                write_image(tmp_path / "held_out" / "more" / f"{name}_{i + 10}.png", colour=colour)
    write_image(tmp_path / "held_out" / "unnamed.png")  # no class in its name: skipped, as in training
    run = train_here(
        *("data=glob", f"data.pattern={tmp_path / 'pets'}/*.png", "data.labels_from=regex"),
        *('data.label_regex="^([a-z]+)_"', "trainer.epochs=1", "data.image_size=[16,16]"),
        *("tracking.log_model=false",),
        cwd=tmp_path,
    )
    uri = ("--tracking-uri", client(tmp_path).tracking_uri)
    main([run.info.run_id, str(tmp_path / "held_out"), "--best", *uri])
    said = capsys.readouterr().out
    assert "runner: 4 images (1 file skipped: 1 no label): accuracy " in said
    assert said.rstrip().endswith(
        "with eval/predictions.csv and data/skipped.csv (each skipped file, and why)"
    )
    store = client(tmp_path)
    [evaluation] = store.search_runs([run.info.experiment_id], "attributes.run_name = 'evaluate held_out'")
    files = Path(store.download_artifacts(evaluation.info.run_id, "", str(tmp_path / "got")))
    [skipped] = csv.DictReader((files / "data" / "skipped.csv").open())
    assert Path(skipped["path"]).name == "unnamed.png"
    rows = list(csv.DictReader((files / "eval" / "predictions.csv").open()))
    assert sorted((Path(row["path"]).name, row["true"]) for row in rows) == [
        ("cat_10.png", "cat"),
        ("cat_11.png", "cat"),
        ("dog_10.png", "dog"),
        ("dog_11.png", "dog"),
    ]
    # The evaluation's run has no model of its own: predict uses the run it scored, rerun says so.
    from runner.predict import main as predict
    from runner.stored import fetch

    said = {}
    for reference in (run.info.run_id, evaluation.info.run_id):
        predict([reference, str(tmp_path / "held_out" / "more"), "--best", *uri])
        said[reference] = capsys.readouterr()
    assert said[evaluation.info.run_id].out == said[run.info.run_id].out
    assert said[evaluation.info.run_id].err == (
        f"runner: note: run {evaluation.info.run_id} is an evaluation of run {run.info.run_id}: "
        f"using that run's model.\n"
    )
    with pytest.raises(RunnerError, match=f"^run {evaluation.info.run_id} is an evaluation of run "):
        fetch(store, evaluation.info.run_id)  # what runner.rerun reads
    write_image(tmp_path / "held_out" / "fox_1.png")
    line = refusal(main, [run.info.run_id, str(tmp_path / "held_out"), "--best", *uri], capsys)
    assert f"{tmp_path / 'held_out'}: label 'fox' is no class of the model, which knows cat, dog, owl" in line


def test_a_regression_run_that_read_its_numbers_from_file_names_reads_a_folders_alike(tmp_path, capsys):
    # UTKFace's way (23_1_0_2017.jpg): the test folder's files carry their numbers as the training ones did.
    from runner.evaluate import main

    sizes_folder(tmp_path / "sizes", count=60)  # NNN_SIDE.jpg
    run = train_here(
        *("data=glob", f"data.pattern={tmp_path / 'sizes'}/*.jpg", "data.labels_from=regex"),
        *('data.label_regex="_(\\d+)\\.jpg$"', "data.label_mode=regression", "trainer.monitor=val_mae"),
        *("trainer.epochs=1", "data.image_size=[16,16]", "tracking.log_model=false"),
        cwd=tmp_path,
    )
    held_out = sizes_folder(tmp_path / "held_out" / "faces", count=12)
    write_image(tmp_path / "held_out" / "unnamed.jpg")  # no number in its name: skipped as in training
    uri = client(tmp_path).tracking_uri
    main([run.info.run_id, str(tmp_path / "held_out"), "--best", "--tracking-uri", uri])
    assert "runner: 12 images (1 file skipped: 1 no label): mae " in capsys.readouterr().out
    store = client(tmp_path)
    [evaluation] = store.search_runs([run.info.experiment_id], "attributes.run_name = 'evaluate held_out'")
    files = Path(store.download_artifacts(evaluation.info.run_id, "", str(tmp_path / "got")))
    rows = list(csv.DictReader((files / "eval" / "predictions.csv").open()))
    assert {Path(row["path"]).name: float(row["true"]) for row in rows} == held_out
    [skipped] = list(csv.DictReader((files / "data" / "skipped.csv").open()))
    assert (Path(skipped["path"]).name, skipped["reason"]) == ("unnamed.jpg", "no label")


def test_a_regression_run_is_scored_on_a_csv_of_numbers_by_its_errors(regression_trained, tmp_path, capsys):
    from runner.evaluate import main

    cwd, run_id, truth = regression_trained
    table = cwd / "sizes" / "test.csv"
    rows = [f"{name},{side}" for name, side in truth.items()]
    first = next(iter(truth))  # listed twice: the second time with no number
    table.write_text("\n".join(["path,label", *rows, "missing.jpg,3", f"{first},big"]) + "\n")
    uri = ("--tracking-uri", client(cwd).tracking_uri)
    main([run_id, str(table), *uri])
    said = capsys.readouterr().out
    store = client(cwd)
    [run] = store.search_runs(
        [store.get_run(run_id).info.experiment_id], "attributes.run_name = 'evaluate test.csv'"
    )
    metrics = run.data.metrics
    reasons = "1 listed in test.csv but the file does not exist, 1 label 'big' is not a number"
    assert f"runner: {len(truth)} images (2 files skipped: {reasons}): mae {metrics['eval_mae']:.4f}" in said
    files = Path(store.download_artifacts(run.info.run_id, "", str(tmp_path)))
    predictions = list(csv.DictReader((files / "eval" / "predictions.csv").open()))
    assert list(predictions[0]) == ["path", "true", "predicted", "error"]
    errors = [float(row["predicted"]) - float(row["true"]) for row in predictions]
    assert [float(row["true"]) for row in predictions] == list(truth.values())
    assert errors == pytest.approx([float(row["error"]) for row in predictions], abs=1e-4)
    assert metrics["eval_mae"] == pytest.approx(sum(map(abs, errors)) / len(errors), abs=1e-4)
    assert metrics["eval_r2"] > 0.8 and (files / "eval" / "predicted_vs_true.png").is_file()
    skipped = {
        Path(row["path"]).name: row["reason"]
        for row in csv.DictReader((files / "data" / "skipped.csv").open())
    }
    assert skipped == {
        "missing.jpg": "listed in test.csv but the file does not exist",
        first: "label 'big' is not a number",
    }
    line = refusal(main, [run_id, str(cwd / "sizes"), *uri], capsys)  # a folder: classes
    assert "predicts a number per image (data.label_mode=regression), and class folders give classes" in line


def test_a_csv_may_name_its_images_by_id_alone_as_kaggles_do(tmp_path):
    from argparse import Namespace

    from runner.sources.evaluated import read

    for path in ("test/a1.png", "test/b2.jpg", "test/.hidden/c3.png", "test/c3.png"):
        write_image(tmp_path / "kaggle" / path)
    table = tmp_path / "kaggle" / "test.csv"
    table.write_text("id,label\na1,cat\nb2.jpg,dog\nc3,dog\nd4,cat\n")
    columns = Namespace(path_column="id", label_column="label")
    rows = read(table, True, "test.csv: run R", ["cat", "dog"], {"label_mode": "int"}, columns)
    test = tmp_path / "kaggle" / "test"
    assert rows.paths == [str(test / "a1.png"), str(test / "b2.jpg"), str(test / "c3.png")]
    assert rows.labels.tolist() == [0, 1, 1]  # c3: the hidden folder's copy is no image of the set
    assert rows.skipped == [
        (str(tmp_path / "kaggle" / "d4"), "listed in test.csv but the file does not exist")
    ]
    defaults = Namespace(path_column="path", label_column="label")
    with pytest.raises(RunnerError, match="Its images are in 'id': --path-column=id. Set --path-column"):
        read(table, True, "test.csv: run R", ["cat", "dog"], {"label_mode": "int"}, defaults)


def test_a_regression_runs_csv_may_write_its_numbers_with_a_decimal_comma_between_semicolons(tmp_path):
    from argparse import Namespace

    from runner.sources.evaluated import read

    for name in ("a.png", "b.png"):
        write_image(tmp_path / name)
    table = tmp_path / "ages.csv"  # Excel's CSV where the decimal mark is a comma
    table.write_text("path;label\na.png;12,5\nb.png;-3\n")
    columns = Namespace(path_column="path", label_column="label")
    index = read(table, True, "ages.csv: run R", [], {"label_mode": "regression"}, columns)
    assert index.numbers.tolist() == [12.5, -3.0] and not index.skipped


def test_a_class_the_run_left_out_by_data_class_names_is_skipped_as_its_training_skipped_it(tmp_path):
    # The run trained on cat and dog of a folder that also held bird (data.class_names=[cat,dog]):
    # its test folder, laid out alike, has bird too. Refused where the run took every class.
    from argparse import Namespace

    from runner.sources.evaluated import read

    for name in ("cat", "dog", "bird"):
        write_image(tmp_path / "test" / name / "a.png")
    write_image(tmp_path / "test" / "bird" / "deeper" / "b.png")
    picked = {"class_names": ["cat", "dog"], "label_mode": "int"}
    index = read(tmp_path / "test", False, "test: run R", ["cat", "dog"], picked, None)
    assert [Path(p).parent.name for p in index.paths] == ["cat", "dog"] and index.labels.tolist() == [0, 1]
    assert index.skipped == [
        (str(tmp_path / "test" / "bird" / "a.png"), f"subfolder 'bird': {LEFT_OUT}"),
        (str(tmp_path / "test" / "bird" / "deeper" / "b.png"), f"subfolder 'bird': {LEFT_OUT}"),
    ]
    with pytest.raises(RunnerError, match="subfolder 'bird' is no class of the model"):
        read(tmp_path / "test", False, "test: run R", ["cat", "dog"], {"label_mode": "int"}, None)
    # A CSV: a row of bird is skipped; several classes to a cell, bird is left out of the cell.
    table = tmp_path / "test" / "labels.csv"
    table.write_text("path,label\ncat/a.png,cat\nbird/a.png,bird\ndog/a.png,dog bird\n")
    columns = Namespace(path_column="path", label_column="label")
    rows = read(table, True, "labels.csv: run R", ["cat", "dog"], {**picked, "label_mode": "int"}, columns)
    assert rows.paths == [str(tmp_path / "test" / "cat" / "a.png")] and rows.labels.tolist() == [0]
    assert len(rows.skipped) == 2 and rows.skipped[0][1] == f"label 'bird': {LEFT_OUT}"
    several = {**picked, "label_mode": "multi_hot", "label_separator": " "}
    rows = read(table, True, "labels.csv: run R", ["cat", "dog"], several, columns)
    assert [Path(p).parent.name for p in rows.paths] == ["cat", "bird", "dog"]
    assert rows.multi.tolist() == [[1, 0], [0, 0], [0, 1]]
    # File names (data=glob data.labels_from=regex): a name of a class left out is skipped.
    write_image(tmp_path / "named" / "cat_1.png")
    write_image(tmp_path / "named" / "bird_1.png")
    regex = {**picked, "pattern": "pets/*.png", "labels_from": "regex", "label_regex": "^([a-z]+)_"}
    index = read(tmp_path / "named", False, "named: run R", ["cat", "dog"], regex, None)
    assert [Path(p).name for p in index.paths] == ["cat_1.png"]
    assert [Path(p).name for p, _ in index.skipped] == ["bird_1.png"]
    with pytest.raises(RunnerError, match="label 'bird' is no class of the model"):
        read(tmp_path / "named", False, "named: run R", ["cat", "dog"], {**regex, "class_names": None}, None)
