"""`python -m runner.export RUN`: a run's model as a SavedModel or LiteRT file, with its decoding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from conftest import client, refusal, run_cli


def decoded(photos, decode: dict) -> np.ndarray:
    """The photos as the exported model expects them, decoded by the settings it came with."""
    from runner.trained import decoder_of

    decoder = decoder_of(decode)
    return np.stack([decoder(str(path)) for path in sorted(photos.rglob("*.*g"))])


def test_a_saved_model_serves_what_the_logged_model_predicts(trained, photos, tmp_path):
    import mlflow
    import tensorflow as tf

    cwd, run_id = trained
    result = run_cli("models:/colours/1", "--out", str(tmp_path / "out"), cwd=cwd, module="runner.export")
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "out" / "runner.json").read_text())
    assert (record["run_id"], record["weights"], record["class_names"]) == (
        run_id,
        "final",
        ["cat", "dog", "owl"],
    )
    assert record["input"]["shape"] == [16, 16, 3] and record["input"]["dtype"] == "uint8"
    images = decoded(photos, record["input"]["decode"])
    saved = tf.saved_model.load(str(tmp_path / "out" / "saved_model"))
    served = saved.serve(images).numpy()
    mlflow.set_tracking_uri(client(cwd).tracking_uri)
    logged = mlflow.keras.load_model(f"runs:/{run_id}/model").predict(images, verbose=0)
    np.testing.assert_allclose(served, logged, atol=1e-5)


def test_a_litert_file_of_the_best_epoch_and_an_occupied_folder_is_refused(trained, photos, tmp_path, capsys):
    import tensorflow as tf

    from runner.export import main
    from runner.stored import client as store_of
    from runner.trained import load

    cwd, run_id = trained
    uri = f"sqlite:///{cwd}/mlflow.db"
    main([run_id, "--format", "litert", "--best", "--out", str(tmp_path / "out"), "--tracking-uri", uri])
    record = json.loads((tmp_path / "out" / "runner.json").read_text())
    assert (record["model"], record["weights"]) == ("model.tflite", "best")
    images = decoded(photos, record["input"]["decode"])
    interpreter = tf.lite.Interpreter(model_path=str(tmp_path / "out" / "model.tflite"))
    [given], [taken] = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(given["index"], images.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(given["index"], images)
    interpreter.invoke()
    store = store_of(uri)
    best = load(store, store.get_run(run_id), best=True)
    np.testing.assert_allclose(
        interpreter.get_tensor(taken["index"]), best.predict(images, verbose=0), atol=1e-5
    )
    # One export per folder: its runner.json describes one model.
    line = refusal(main, [run_id, "--out", str(tmp_path / "out"), "--tracking-uri", uri], capsys)
    assert "holds an export already" in line
    (tmp_path / "notes").write_text("a file, not a folder")
    line = refusal(main, [run_id, "--out", str(tmp_path / "notes" / "out"), "--tracking-uri", uri], capsys)
    where = tmp_path / "notes" / "out"
    assert line.endswith(f"out: cannot make the folder there (Not a directory: {where}); give a new folder.")


def test_help_does_not_import_tensorflow(tmp_path):
    from conftest import probe_cli

    output, heavy = probe_cli("--help", cwd=tmp_path, module="runner.export")
    assert "--format {litert,saved_model}" in output and heavy == []


def export_here(run_id: str, out: Path, cwd: Path, capsys) -> str:
    """``python -m runner.export RUN_ID --out OUT`` in this process (the test above runs it as
    users do): what it printed."""
    from runner.export import main

    capsys.readouterr()
    main([run_id, "--out", str(out), "--tracking-uri", client(cwd).tracking_uri])
    return capsys.readouterr().out


def test_a_multi_label_models_outputs_are_said_to_be_each_classes_own(multi_trained, tmp_path, capsys):
    cwd, run_id, _ = multi_trained
    export_here(run_id, tmp_path / "out", cwd, capsys)
    record = json.loads((tmp_path / "out" / "runner.json").read_text())
    assert record["output"].startswith("sigmoids: each class's own probability, in class_names order")
    assert record["class_names"] == ["blue", "green", "red"]
    tuned = client(cwd).download_artifacts(run_id, "eval/thresholds.csv", str(tmp_path))
    rows = Path(tuned).read_text().splitlines()[1:]
    assert record["thresholds"] == {row.split(",")[0]: float(row.split(",")[1]) for row in rows}


def test_a_regression_models_output_is_said_to_be_the_number(regression_trained, tmp_path, capsys):
    cwd, run_id, _ = regression_trained
    said = export_here(run_id, tmp_path / "out", cwd, capsys)
    assert said.strip().endswith(f"(run {run_id}, a number per image)")
    record = json.loads((tmp_path / "out" / "runner.json").read_text())
    assert record["output"].startswith("value: the image's number") and record["class_names"] == []


def test_a_litert_export_keeps_the_converters_notes_off_the_console(tmp_path, capfd):
    from runner.export import export
    from runner.models import small_cnn

    model = small_cnn((8, 8, 3), 2, filters=(4,), dense=4)
    capfd.readouterr()
    export(model, ["cat", "dog"], {"image_size": [8, 8]}, tmp_path, "litert", {})
    assert (tmp_path / "model.tflite").stat().st_size > 0
    # TensorFlow's converter said "Ignored output_format." and "Ignored drop_control_dependency."
    assert "Ignored" not in capfd.readouterr().err
