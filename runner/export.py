"""``python -m runner.export RUN [--format saved_model|litert] [--out FOLDER] [--best]``: a run's
model for serving outside Python and Keras (TF Serving, a phone, a browser).

Keras exports it (``Model.export``): a TensorFlow SavedModel whose ``serve`` signature takes a
batch of uint8 pixels, or a LiteRT (TFLite) flatbuffer. Scaling and a backbone's own
``preprocess_input`` are inside the model, so a server feeds it the pixels of the decoded image.
How a file becomes those pixels is not inside it: ``runner.json`` beside the model holds the run's
decode settings (size, colour mode, interpolation, crop/pad), the class names in output order and
where the model came from, so the serving side can match training (``runner.predict`` does it
with the runner's own decoder).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from runner import tflog
from runner.cli import RUN_HELP, described, parsed
from runner.errors import RunnerError
from runner.schemas.tracking import TrackingConfig
from runner.scores import THRESHOLD
from runner.trained import a_number_each, several_per_image

FORMATS = {"saved_model": ("tf_saved_model", "saved_model"), "litert": ("litert", "model.tflite")}


def format_name(text: str) -> str:
    """``--format``'s value: ``tflite``, LiteRT's name until 2024 (its files are still .tflite), is
    taken for ``litert``."""
    return "litert" if text.lower() == "tflite" else text


def export(
    model: Any,
    class_names: list[str],
    data: dict,
    out: Path,
    fmt: str,
    source: dict,
    thresholds: np.ndarray | None = None,
    temperature: float | None = None,
) -> Path:
    """``model`` in ``fmt`` under ``out``, with ``runner.json`` (the decode settings taken from the
    run's ``data`` config; a multi-label run's tuned ``thresholds``, per class; the ``temperature``
    a run of one class per image calibrates its probabilities at: softmax(log(p) / T)); the model's
    path."""
    keras_format, name = FORMATS[fmt]
    target = out / name
    with tflog.filtered_stderr(tflog.asked_level(), dropped=tflog.CONVERTER_NOTES):
        model.export(str(target), format=keras_format, verbose=False)
    _, height, width, channels = model.inputs[0].shape
    decode = {key: data[key] for key in ("image_size", "color_mode", "interpolation") if key in data}
    decode |= {key: data.get(key, False) for key in ("crop_to_aspect_ratio", "pad_to_aspect_ratio")}
    record = {
        **source,
        "format": fmt,
        "model": name,
        "input": {"shape": [height, width, channels], "dtype": "uint8", "decode": decode},
        "output": output_said(model, class_names, data),
        "class_names": class_names,
        **(
            {"thresholds": dict(zip(class_names, thresholds.tolist(), strict=True))}
            if thresholds is not None
            else {}
        ),
        **({"temperature": temperature} if temperature is not None else {}),
    }
    (out / "runner.json").write_text(json.dumps(record, indent=2) + "\n")
    return target


def output_said(model: Any, class_names: list[str], data: dict) -> str:
    """What the model's output means, for the serving side."""
    if a_number_each(data):
        return "value: the image's number, in its training labels' unit (data.label_mode=regression)"
    if model.outputs[0].shape[-1] == 1:
        return f"sigmoid: the probability of {class_names[1]!r} (else {class_names[0]!r})"
    if several_per_image(data):
        return (
            f"sigmoids: each class's own probability, in class_names order; the classes at "
            f"{THRESHOLD} or more are the image's (or at their thresholds, tuned on the run's "
            f"validation images)"
        )
    return "softmax: one probability per class, in class_names order"


def make_folder(out: Path) -> None:
    """``--out``, new or empty of exports: refused before the model is downloaded and Keras starts."""
    if (out / "runner.json").exists():
        raise RunnerError(f"--out {out}: holds an export already; give a new folder, or remove that one.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunnerError(
            f"--out {out}: cannot make the folder there ({err.strerror}: {err.filename}); give a new folder."
        ) from err


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runner.export", description=described(__doc__))
    parser.add_argument("run_id", metavar="RUN", help=RUN_HELP)
    parser.add_argument(
        "--format", type=format_name, choices=sorted(FORMATS), default="saved_model", help="what to write"
    )
    parser.add_argument("--out", help="folder to write the model and runner.json to (default: export-RUN)")
    parser.add_argument("--best", action="store_true", help="the best trainer.monitor epoch's model")
    parser.add_argument("--tracking-uri", default=TrackingConfig.uri, help="the run's MLflow store")
    args = parsed(parser, argv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from runner import __main__ as entry

    def run() -> None:
        from runner.stored import client
        from runner.trained import load, run_of, run_record, tuned

        store = client(args.tracking_uri, "--tracking-uri")
        run_id = run_of(store, args.run_id)
        run, stored, class_names = run_record(store, run_id)
        out = Path(args.out or f"export-{run_id}").expanduser()
        make_folder(out)
        model = load(store, run, args.best)
        source = {"run_id": run_id, "reference": args.run_id, "weights": "best" if args.best else "final"}
        thresholds = None
        if several_per_image(stored["data"]):
            with contextlib.suppress(RunnerError):  # no validation images: none tuned
                thresholds = tuned(store, run_id, class_names, stored["data"])
        heat = run.data.metrics.get("final_val_temperature")  # one class per image, validated
        path = export(model, class_names, stored["data"], out, args.format, source, thresholds, heat)
        gives = "a number per image" if a_number_each(stored["data"]) else f"{len(class_names)} classes"
        print(f"runner: wrote {path} and {out / 'runner.json'} (run {run_id}, {gives})")

    entry.reported(run, trains=False)


if __name__ == "__main__":
    from runner.__main__ import run_command

    run_command(main)
