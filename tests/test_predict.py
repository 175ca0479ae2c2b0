"""`python -m runner.predict RUN_ID PATH...`: a past run's model on files, decoded as in training."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import client, damaged_copy, error_lines, probe_cli, refusal, run_cli, train_here, write_image
from PIL import Image

from runner.predict import views
from runner.schemas.data import ColorMode, Interpolation
from runner.sources.given import image_files
from runner.sources.index import NOT_UTF8


def predict(*args: str, cwd: Path):
    return run_cli(*args, cwd=cwd, module="runner.predict")


def predict_here(*args: str, cwd: Path, capsys) -> str:
    """The same command in this process, its stdout: no TensorFlow start of its own (the tests
    above run it as users do)."""
    from runner.predict import main

    main([*args, "--tracking-uri", client(cwd).tracking_uri])
    return capsys.readouterr().out


def refused_here(*args: str, cwd: Path, capsys) -> str:
    """The one line (exit code 2) that the same command prints in this process."""
    from runner.predict import main

    return refusal(main, [*args, "--tracking-uri", client(cwd).tracking_uri], capsys)


def test_predicts_each_image_of_a_folder_and_reports_bad_files(trained, photos, tmp_path):
    cwd, run_id = trained
    folder = damaged_copy(photos, tmp_path / "new")
    (folder / "dog" / "empty.png").write_bytes(b"")
    latin1 = bytes(folder / "owl") + b"/hibou-\xe9.jpg"  # no CSV line can hold its name
    shutil.copy(next((folder / "owl").glob("*.jpg")), os.fsdecode(latin1))
    for twin in ("__MACOSX/cat/._cat01.jpg", "cat/._cat01.jpg"):  # an unzipped macOS archive's
        (folder / twin).parent.mkdir(parents=True, exist_ok=True)
        (folder / twin).write_bytes(b"\x00\x05\x16\x07" + bytes(80))  # not images: not read
    extra = write_image(tmp_path / "owl.png", (80, 60), (60, 200, 80), mode="RGBA")  # a file, named
    result = predict(run_id, str(folder), str(extra), cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    good = sorted(
        str(p)
        for p in folder.rglob("*")
        if p.is_file()
        and p.stat().st_size
        and "corrupt" not in p.name
        and "hibou" not in p.name
        and "._" not in str(p)
    )
    assert [row["path"] for row in rows] == [*good, str(extra)]
    right = [row["class"] == Path(row["path"]).parent.name for row in rows[:-1]]
    assert sum(right) / len(right) >= 0.9  # the classes are colours: learnable in a few epochs
    assert rows[-1]["class"] == "owl"  # RGBA, another size: decoded to the run's RGB 16x16
    assert all(0 < float(row["probability"]) <= 1 for row in rows)
    skipped = [line for line in result.stderr.splitlines() if line.startswith("runner: skipped")]
    assert len(skipped) == 3
    assert skipped[0] == f"runner: skipped {latin1.decode(errors='backslashreplace')}: {NOT_UTF8}"
    assert skipped[1].startswith(f"runner: skipped {folder / 'cat' / 'corrupt.jpg'}: cannot decode")
    assert skipped[2] == f"runner: skipped {folder / 'dog' / 'empty.png'}: empty file (0 bytes)"


def test_bad_requests_are_one_line_and_help_is_fast(trained, tmp_path, capsys):
    cwd, run_id = trained
    output, heavy = probe_cli("--help", cwd=cwd, module="runner.predict")
    assert "PATH" in output and heavy == []
    (tmp_path / "notes.txt").write_text("no images here")
    (tmp_path / "photos").mkdir()  # what "Photo" may mean
    (tmp_path / "My Photos (2024)").mkdir()
    result = predict("0123abcd", str(tmp_path / "notes.txt"), cwd=cwd)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert "run 0123abcd: not found" in line, line
    # The others in this process: the same entry point, its line and exit code, without a new TensorFlow.
    for args, expected in [
        ([run_id, str(tmp_path / "missing")], "missing: no such file or folder. Give image files"),
        (
            [run_id, str(tmp_path / "Photo")],
            f"Photo: no such file or folder. Did you mean '{tmp_path / 'photos'}'?",
        ),
        ([run_id, str(tmp_path)], "no images there (extensions: jpg"),
        ([run_id, f"{tmp_path}/*.txt"], f"{tmp_path}/*.txt: matches no image file (1 path in all)."),
        (
            [run_id, f"{tmp_path}/*.tif"],
            f"{tmp_path}/*.tif: matches nothing. The files under '{tmp_path}' end",
        ),
        ([run_id, "https://example.com/cat.jpg"], "no such file or folder. It reads local files: download"),
        # A folder's name with spaces, unquoted: the shell split it.
        (
            [run_id, *str(tmp_path / "My Photos (2024)").split(" ")],
            f"My: no such file or folder. '{tmp_path / 'My Photos (2024)'}' is there: the shell split its "
            f"name at spaces. Quote it.",
        ),
    ]:
        line = refused_here(*args, cwd=cwd, capsys=capsys)
        assert expected in line, line


def test_a_run_without_a_model_is_one_line(trained, capsys):
    cwd, run_id = trained
    store = client(cwd)
    config = yaml.safe_load(Path(store.download_artifacts(run_id, "config.yaml", str(cwd))).read_text())
    failed = store.create_run(store.get_run(run_id).info.experiment_id).info.run_id
    store.log_text(failed, yaml.safe_dump(config), "config.yaml")  # failed before reading its data
    line = refused_here(failed, str(cwd / "config.yaml"), cwd=cwd, capsys=capsys)
    assert f"run {failed}: no data/class_names.json (it stopped before reading its data)" in line, line
    store.log_dict(failed, {"class_names": ["cat", "dog", "owl"]}, "data/class_names.json")  # ... in training
    line = refused_here(failed, str(cwd / "config.yaml"), cwd=cwd, capsys=capsys)
    assert f"run {failed}: no logged model" in line, line
    _, heavy = probe_cli(failed, str(cwd / "config.yaml"), cwd=cwd, module="runner.predict")
    assert heavy == ["mlflow"]  # refused before Keras and TensorFlow start
    from runner.errors import RunnerError
    from runner.trained import load

    with pytest.raises(RunnerError, match=f"run {failed}: no outputs/checkpoints/best.keras"):
        load(store, store.get_run(failed), best=True)


def test_a_folder_is_read_for_the_types_its_run_trained_on(trained, photos, tmp_path, capsys):
    # A run trained on scans (data.extensions=[tif]) found "no images" in a folder of scans.
    cwd, run_id = trained
    store = client(cwd)
    config = yaml.safe_load(Path(store.download_artifacts(run_id, "config.yaml", str(tmp_path))).read_text())
    config["data"]["extensions"] = ["tif"]
    scans = store.create_run(store.get_run(run_id).info.experiment_id).info.run_id
    store.log_text(scans, yaml.safe_dump(config), "config.yaml")
    store.log_dict(scans, {"class_names": ["cat", "dog", "owl"]}, "data/class_names.json")
    pngs, jpgs = len(list(photos.rglob("*.png"))), len(list(photos.rglob("*.jpg")))
    line = refused_here(scans, str(photos), cwd=cwd, capsys=capsys)
    assert line.endswith(
        f"{photos}: no images there (extensions: tif). There are {pngs} .png and {jpgs} .jpg files of "
        f"types the run did not train on. Name the files themselves to predict them anyway."
    ), line
    Image.open(write_image(tmp_path / "scans" / "cat.png")).save(tmp_path / "scans" / "cat.tif")
    line = refused_here(scans, str(tmp_path / "scans"), cwd=cwd, capsys=capsys)
    assert f"run {scans}: no logged model" in line, line  # the scan was found: on to the model
    # Into linked folders where the run went into its own (data.follow_links), each once.
    (tmp_path / "elsewhere").mkdir()
    Image.open(tmp_path / "scans" / "cat.tif").save(tmp_path / "elsewhere" / "dog.tif")
    (tmp_path / "scans" / "more").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "scans" / "up").symlink_to(tmp_path / "scans")  # a loop: walked once
    assert image_files([str(tmp_path / "scans")], ["tif"], follow_links=True) == [
        str(tmp_path / "scans" / "cat.tif"),
        str(tmp_path / "scans" / "more" / "dog.tif"),
    ]
    capsys.readouterr()
    # Beside the images, files of other types are said on stderr, not silently left out.
    assert image_files([str(tmp_path / "scans")], ["TIF"]) == [str(tmp_path / "scans" / "cat.tif")]
    assert capsys.readouterr().err == (
        f"runner: {tmp_path / 'scans'}: left out files of other types. There is 1 .png file of a type "
        f"the run did not train on.\n"
    )


def test_a_model_damaged_in_the_store_is_one_line(trained, photos, tmp_path, capsys):
    # Cut short by a disk error, or by a copy of the store that stopped: Keras's "File not found"
    # ended a traceback.
    cwd, run_id = trained
    store = client(cwd)
    damaged = store.create_run(store.get_run(run_id).info.experiment_id).info.run_id
    for name in ("config.yaml", "data/class_names.json", "outputs/checkpoints/best.keras"):
        whole = Path(store.download_artifacts(run_id, name, str(tmp_path / "whole")))
        cut = tmp_path / "cut" / name
        cut.parent.mkdir(parents=True, exist_ok=True)
        cut.write_bytes(whole.read_bytes()[:500] if cut.suffix == ".keras" else whole.read_bytes())
        store.log_artifact(damaged, str(cut), str(Path(name).parent) if "/" in name else None)
    line = refused_here(damaged, str(photos / "cat"), "--best", cwd=cwd, capsys=capsys)
    assert line == (
        f"runner: error: run {damaged}: cannot load its outputs/checkpoints/best.keras: the file is "
        f"damaged (no whole .keras zip). Try its logged model (no --best), or train the run again "
        f"(python -m runner.rerun {damaged})."
    )
    # A whole zip that Keras still refuses (here, a config that is no JSON): Keras's own words.
    with zipfile.ZipFile(tmp_path / "cut" / "outputs/checkpoints/best.keras", "w") as keras_file:
        keras_file.writestr("config.json", "{")
        keras_file.writestr("metadata.json", "{}")
    store.log_artifact(
        damaged, str(tmp_path / "cut" / "outputs/checkpoints/best.keras"), "outputs/checkpoints"
    )
    line = refused_here(damaged, str(photos / "cat"), "--best", cwd=cwd, capsys=capsys)
    assert line.startswith(f"runner: error: run {damaged}: cannot load its outputs/checkpoints/best.keras: ")
    assert "damaged" not in line, line
    # Its classes' names cut short: one line too, before the model is read.
    store.log_text(damaged, '{"class_names": ["cat", "do', "data/class_names.json")
    line = refused_here(damaged, str(photos / "cat"), cwd=cwd, capsys=capsys)
    assert line.startswith(f"runner: error: run {damaged}: its data/class_names.json cannot be read (")
    assert line.endswith(
        f"cut short or edited in the store. Train the run again: python -m runner.rerun {damaged}"
    )


def test_best_predicts_with_the_best_epochs_checkpoint(trained, photos, capsys):
    import keras
    import numpy as np

    from runner.decode import Decoder
    from runner.fill import decode_into

    cwd, run_id = trained
    name = client(cwd).get_run(run_id).info.run_name  # MLflow's, as its UI shows it: a run by name
    rows = list(
        csv.DictReader(io.StringIO(predict_here(name, str(photos / "cat"), "--best", cwd=cwd, capsys=capsys)))
    )
    record = client(cwd).download_artifacts(run_id, "outputs/checkpoints/best.json", str(cwd / "best"))
    assert json.loads(Path(record).read_text())["epoch"] < 7  # not the final model of the 8 epochs
    path = client(cwd).download_artifacts(run_id, "outputs/checkpoints/best.keras", str(cwd / "best"))
    best = keras.saving.load_model(path, safe_mode=True)
    images = np.empty((len(rows), 16, 16, 3), np.uint8)
    decode_into(images, [row["path"] for row in rows], Decoder(16, 16, ColorMode.rgb, Interpolation.bilinear))
    expected = best.predict(images, verbose=0).max(axis=1)
    np.testing.assert_allclose([float(row["probability"]) for row in rows], expected, atol=2e-6)


def test_files_are_decoded_by_the_decoder_the_run_trained_with(trained):
    from runner.decode import Decoder
    from runner.stored import fetch
    from runner.trained import decoder_of

    cwd, run_id = trained
    _, stored = fetch(client(cwd), run_id)
    stored["data"].update(color_mode="grayscale", crop_to_aspect_ratio=True)  # a run that set them
    assert decoder_of(stored["data"]) == Decoder(16, 16, ColorMode.grayscale, Interpolation.bilinear, True)


def test_a_registered_model_version_predicts_as_its_run(trained, photos, capsys):
    cwd, run_id = trained
    [version] = client(cwd).search_model_versions("name='colours'")
    assert (int(version.version), version.run_id) == (1, run_id)
    client(cwd).set_registered_model_alias("colours", "champion", "1")
    by_run = predict_here(run_id, str(photos / "owl"), cwd=cwd, capsys=capsys)
    assert len(by_run.splitlines()) == 1 + len(list((photos / "owl").iterdir()))
    from runner.errors import RunnerError
    from runner.trained import run_of

    for reference in ["models:/colours/1", "models:/colours@champion"]:
        assert predict_here(reference, str(photos / "owl"), cwd=cwd, capsys=capsys) == by_run
    uri = client(cwd).tracking_uri
    for reference, expected in [
        (
            "models:/colours/7",
            f"no such registered model version in {uri}. 'colours' has version 1; aliases @champion (1).",
        ),
        (
            "models:/colors@champion",
            f"in {uri}. No model is registered as 'colors'. Did you mean 'colours'? Registered: colours.",
        ),
        ("models:/colours", "or models:/NAME@ALIAS. 'colours' has version 1; aliases @champion (1)."),
    ]:
        with pytest.raises(RunnerError) as refused:
            run_of(client(cwd), reference)
        assert str(refused.value).startswith(f"{reference}: ") and str(refused.value).endswith(expected)
    client(cwd).create_registered_model("empty")  # registered, no version logged to it yet
    try:
        with pytest.raises(
            RunnerError, match=r"no such registered model version in .*\. 'empty' has no versions\.$"
        ):
            run_of(client(cwd), "models:/empty/1")
        with pytest.raises(RunnerError, match=r"\. 'empty' has no versions and no alias\.$"):
            run_of(client(cwd), "models:/empty@champion")  # asked by alias: that it has none
    finally:
        client(cwd).delete_registered_model("empty")  # the store is the other tests' too


def test_top_k_lists_each_files_likeliest_classes_first(trained, photos, capsys):
    cwd, run_id = trained
    first = list(
        csv.DictReader(io.StringIO(predict_here(run_id, str(photos / "owl"), cwd=cwd, capsys=capsys)))
    )
    top = predict_here(run_id, str(photos / "owl"), "--top", "3", cwd=cwd, capsys=capsys)
    rows = list(csv.DictReader(io.StringIO(top)))
    assert len(rows) == 3 * len(first)
    for at, expected in zip(range(0, len(rows), 3), first, strict=True):
        ranked = rows[at : at + 3]
        assert ranked[0] == expected and {row["path"] for row in ranked} == {expected["path"]}
        assert sorted(row["class"] for row in ranked) == ["cat", "dog", "owl"]  # all three classes
        probabilities = [float(row["probability"]) for row in ranked]
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) == pytest.approx(
            1, abs=1e-4
        )


def test_a_sweeps_run_stands_for_its_best_jobs_and_one_with_none_finished_is_refused(tmp_path, capsys):
    from runner.errors import RunnerError
    from runner.trained import run_of, run_record

    store = client(tmp_path)
    experiment = store.create_experiment("runner")
    command = {"runner.sweep_dir": "multirun/x", "runner.command": "python -m runner -m x=1,2"}
    best = store.create_run(experiment).info.run_id
    ranked = store.create_run(experiment, run_name="sweep", tags={**command, "runner.best_run": best})
    store.log_metric(ranked.info.run_id, "best_val_accuracy", 0.875)
    capsys.readouterr()  # MLflow's lines as it made the store
    assert run_of(store, ranked.info.run_id) == best
    assert capsys.readouterr().err == (
        f"runner: note: run {ranked.info.run_id} is a sweep; its best job's run is {best}, "
        f"val_accuracy 0.8750: using its model.\n"
    )
    unranked = store.create_run(experiment, run_name="sweep", tags=command).info.run_id  # none finished
    assert run_of(store, unranked) == unranked
    with pytest.raises(RunnerError, match=f"run {unranked} is a sweep, not a training run"):
        run_record(store, unranked)


def test_a_multi_label_runs_files_get_a_row_for_each_class_they_show(multi_trained, tmp_path, capsys):
    cwd, run_id, truth = multi_trained
    grey = write_image(tmp_path / "grey.jpg", (32, 32), (150, 150, 150))  # no square: no class
    out = predict_here(run_id, str(grey), cwd=cwd, capsys=capsys)
    assert out.splitlines() == ["path,class,probability", f"{grey},,"]
    out = predict_here(run_id, str(cwd / "squares"), cwd=cwd, capsys=capsys)
    found: dict[str, set[str]] = {}
    last: dict[str, float] = {}
    for row in csv.DictReader(io.StringIO(out)):  # each class at 0.5 or more, likeliest first
        found.setdefault(Path(row["path"]).name, set())
        if row["class"]:
            assert 0.5 <= float(row["probability"]) <= last.get(row["path"], 1.0)
            last[row["path"]] = float(row["probability"])
            found[Path(row["path"]).name].add(row["class"])
        else:  # none: one row to say so
            assert row["probability"] == "" and not found[Path(row["path"]).name]
    assert found.keys() == truth.keys()
    assert sum(found[name] == classes for name, classes in truth.items()) >= 0.9 * len(truth)
    assert sum(len(classes) > 1 for classes in found.values()) > 50  # several, where the image has them
    top = predict_here(run_id, str(cwd / "squares" / "000.jpg"), "--top", "3", cwd=cwd, capsys=capsys)
    assert sorted(row["class"] for row in csv.DictReader(io.StringIO(top))) == ["blue", "green", "red"]


def test_a_regression_runs_files_get_their_number(regression_trained, capsys):
    cwd, run_id, truth = regression_trained
    out = predict_here(run_id, str(cwd / "sizes"), cwd=cwd, capsys=capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["path", "value"]
    said = {Path(row["path"]).name: float(row["value"]) for row in rows}
    assert said.keys() == truth.keys()
    errors = [abs(said[name] - side) for name, side in truth.items()]
    assert sum(errors) / len(errors) < 1.5  # sides 4-28: a model that learnt nothing misses by ~6
    line = refused_here(run_id, str(cwd / "sizes" / next(iter(truth))), "--top", "2", cwd=cwd, capsys=capsys)
    assert f"--top 2: ranks classes, and run {run_id} predicts a number per image" in line


def test_a_multi_label_run_says_each_class_at_its_tuned_threshold(multi_unsure, trained, capsys):
    cwd, run_id, _ = multi_unsure
    store = client(cwd)
    table = Path(store.download_artifacts(run_id, "eval/thresholds.csv", str(cwd / "tuned")))
    cut = {row["class"]: float(row["threshold"]) for row in csv.DictReader(table.open())}
    assert set(cut.values()) != {0.5}  # else the test could not tell tuned from 0.5
    every = predict_here(run_id, str(cwd / "squares"), "--top", "3", cwd=cwd, capsys=capsys)
    expected: dict[str, set[str]] = {}
    for row in csv.DictReader(io.StringIO(every)):  # each class's probability
        expected.setdefault(row["path"], set())
        if float(row["probability"]) >= cut[row["class"]]:
            expected[row["path"]].add(row["class"])
    said: dict[str, set[str]] = {}
    for row in csv.DictReader(
        io.StringIO(predict_here(run_id, str(cwd / "squares"), "--tuned", cwd=cwd, capsys=capsys))
    ):
        said.setdefault(row["path"], set()).update({row["class"]} - {""})
    assert said == expected
    line = refused_here(run_id, str(cwd / "squares"), "--tuned", "--top", "2", cwd=cwd, capsys=capsys)
    assert "--tuned: picks each class's yes by its own threshold, and --top the K likeliest" in line
    line = refused_here(run_id, str(cwd / "squares"), "--calibrated", cwd=cwd, capsys=capsys)
    assert (
        f"--calibrated: rescales the probabilities of one class per image, and run {run_id} is multi_hot"
        in line
    )
    single_cwd, single_run = trained
    line = refused_here(
        single_run, str(cwd / "squares" / "000.jpg"), "--tuned", cwd=single_cwd, capsys=capsys
    )
    assert f"and run {single_run} is not multi-label (data.label_mode=multi_hot). Drop it." in line
    # No validation images: no temperature fitted.
    line = refused_here(single_run, str(cwd / "squares"), "--calibrated", cwd=single_cwd, capsys=capsys)
    assert f"--calibrated: run {single_run} logged no final_val_temperature (it had no validation" in line


def test_the_views_are_the_image_and_each_mirroring_of_it():
    images = np.arange(2 * 2 * 3 * 1).reshape(2, 2, 3, 1)  # (images, height, width, channels)
    [same] = views(images, ())
    assert same is images
    first, across = views(images, ("horizontal",))
    assert first is images
    np.testing.assert_array_equal(across, images[:, :, ::-1])
    _, across, upside_down, both = views(images, ("horizontal", "vertical"))
    np.testing.assert_array_equal(upside_down, images[:, ::-1])
    np.testing.assert_array_equal(both, images[:, ::-1, ::-1])
    assert all(view.flags.c_contiguous for view in (across, upside_down, both))


def test_tta_averages_each_image_with_its_mirrors_for_a_run_that_trained_on_mirrored_images(
    trained, photos, tmp_path, capsys
):
    from PIL import Image

    run = train_here(
        *("data=dir", f"data.path={photos}", "data.image_size=[16,16]", "data.validation_split=0"),
        *("aug=flip", "aug.ops.flip.mode=horizontal_and_vertical", "trainer.monitor=accuracy"),
        *("trainer.epochs=1", "tracking.log_model=false"),
        cwd=tmp_path,
    )
    capsys.readouterr()  # the run's own lines: predict's come next
    # Four unlike quarters, at the run's size (no resize: a mirror decodes mirrored).
    shown, mirrors = tmp_path / "shown", tmp_path / "mirrors"
    shown.mkdir()
    mirrors.mkdir()
    quarters = {"a": ("red", "blue", "green", "white"), "b": ("black", "red", "blue", "grey")}
    for name, colours in quarters.items():
        image = Image.new("RGB", (16, 16), colours[0])
        for colour, box in zip(colours[1:], [(8, 0, 16, 8), (0, 8, 8, 16), (8, 8, 16, 16)], strict=True):
            image.paste(colour, box)
        image.save(shown / f"{name}.png")
        image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(mirrors / f"{name}_h.png")
        image.transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(mirrors / f"{name}_v.png")
        image.transpose(Image.Transpose.ROTATE_180).save(mirrors / f"{name}_hv.png")

    def probabilities(*paths: str, tta: tuple = ()) -> dict[tuple[str, str], float]:
        out = predict_here(run.info.run_id, *paths, "--best", "--top", "3", *tta, cwd=tmp_path, capsys=capsys)
        return {
            (Path(r["path"]).stem, r["class"]): float(r["probability"])
            for r in csv.DictReader(io.StringIO(out))
        }

    plain = probabilities(str(shown), str(mirrors))
    averaged = probabilities(str(shown), tta=("--tta",))
    assert averaged.keys() == {(n, c) for n in "ab" for c in ("cat", "dog", "owl")}
    assert any(plain[n, c] != pytest.approx(plain[f"{n}_v", c], abs=1e-3) for n, c in averaged)
    for (name, label), probability in averaged.items():
        views = [plain[name, label], *(plain[f"{name}_{m}", label] for m in ("h", "v", "hv"))]
        assert probability == pytest.approx(sum(views) / 4, abs=2e-6)
    # A run that did not train on mirrored images: a mirrored image need not be of its class.
    cwd, run_id = trained
    line = refused_here(run_id, str(shown), "--tta", cwd=cwd, capsys=capsys)
    assert line == (
        f"runner: error: --tta: averages each image with its mirror image, and run {run_id} did not "
        f"train on mirrored images (no keras.layers.RandomFlip in its aug.ops), so a mirrored image "
        f"need not be of its class (a 'b' mirrored is a 'd'). Drop --tta, or train with aug=flip."
    )


def test_a_pattern_the_shell_left_alone_names_the_images_it_matches(photos):
    # Quoted, or from a shell that does not expand it (Windows'): read as the shell would have.
    everything = image_files([str(photos)])
    assert image_files([f"{photos}/cat/*"]) == sorted(f for f in everything if "/cat/" in f)
    assert image_files([f"{photos}/**/*.[jp][pn]g"]) == everything  # any folder deep
    # One that matches nothing: what it nearly matched, as data.pattern's refusal says it.
    from runner.errors import RunnerError

    pngs = sorted(f for f in everything if f.endswith(".png"))
    with pytest.raises(RunnerError) as refused:
        image_files([f"{photos}/*.png"])
    assert str(refused.value) == (
        f"{photos}/*.png: matches nothing. '{photos}/**/*.png' matches {len(pngs)} files in "
        f"subfolders, e.g. '{pngs[0]}'."
    )
