"""A trained run read back for using its model: the run a reference names (an id, a name, a
sweep's best job, a registered version), its classes, the ``Decoder`` its images were made with,
its model (``safe_mode``), its tuned thresholds and its temperature, and the mirrorings it
trained on (``--tta``). Each is checked before the model is downloaded and Keras starts. Used
by predict, evaluate and export.
"""

from __future__ import annotations

import json
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from runner.errors import RunnerError
from runner.schemas.data import DataConfig, LabelMode
from runner.scores import THRESHOLD, TUNED
from runner.store import quoted
from runner.words import closest, some


def decoder_of(data: dict) -> Any:
    """The ``Decoder`` a run's stored ``data`` config made its cache with (its shared keys,
    type-checked by the schema every data source extends)."""
    from runner.decode import Decoder

    schema = OmegaConf.structured(DataConfig)
    return Decoder.of(OmegaConf.merge(schema, {key: value for key, value in data.items() if key in schema}))


def several_per_image(data: dict) -> bool:
    """Whether a run's stored ``data`` config trained several classes per image (``multi_hot``)."""
    return data.get("label_mode") == LabelMode.multi_hot.value


def a_number_each(data: dict) -> bool:
    """Whether a run's stored ``data`` config trained a number per image (``regression``)."""
    return data.get("label_mode") == LabelMode.regression.value


def run_of(store: Any, reference: str) -> str:
    """The id of the run ``reference`` names (its id or name: ``stored.find_run``; a sweep's run: its
    best job's, and an evaluation's: the run it scored, each said on stderr), or of the run that
    logged the registered model version it names: ``models:/NAME/VERSION`` or
    ``models:/NAME@ALIAS`` (``tracking.register_as``)."""
    from mlflow.exceptions import MlflowException

    from runner.stored import find_run

    if not reference.startswith("models:/"):
        run = find_run(store, reference)
        if trained := run.data.tags.get("runner.evaluation_of"):  # runner.evaluate's run: no model
            said = f"runner: note: run {run.info.run_id} is an evaluation of run {trained}"
            print(f"{said}: using that run's model.", file=sys.stderr)
            return trained
        best = run.data.tags.get("runner.best_run") if "runner.sweep_dir" in run.data.tags else None
        if best is None:  # a sweep with no finished job is refused as it is read (stored.fetch)
            return run.info.run_id
        score = "".join(
            f", {key.removeprefix('best_')} {value:.4f}"
            for key, value in run.data.metrics.items()
            if key.startswith("best_")
        )
        said = f"runner: note: run {run.info.run_id} is a sweep; its best job's run is {best}{score}"
        print(f"{said}: using its model.", file=sys.stderr)
        return best
    name, at, alias = reference.removeprefix("models:/").partition("@")
    name, _, number = (name, "", "") if at else name.rpartition("/")
    if not name or not (alias or number):
        given = name or reference.removeprefix("models:/")  # models:/colours: the name alone
        said = f" {registered(store, given)}" if given else ""
        raise RunnerError(f"{reference}: give a run id, models:/NAME/VERSION or models:/NAME@ALIAS.{said}")
    try:
        found = store.get_model_version_by_alias(name, alias) if at else store.get_model_version(name, number)
    except MlflowException as err:
        raise RunnerError(
            f"{reference}: no such registered model version in {store.tracking_uri}. "
            f"{registered(store, name, by_alias=bool(at))}"
        ) from err
    return found.run_id


def registered(store: Any, name: str, by_alias: bool = False) -> str:
    """What the registry holds under ``name``: its versions and aliases (that it has none, asked
    ``by_alias``), or the name it may mean."""
    from mlflow.exceptions import MlflowException

    try:
        model = store.get_registered_model(name)
    except MlflowException:
        names = [model.name for model in store.search_registered_models()]
        if not names:
            return "No model is registered there (tracking.register_as=NAME registers a run's)."
        return f"No model is registered as '{name}'.{closest(name, names)} Registered: {some(names)}."
    value = quoted(name)
    found = store.search_model_versions(f"name={value}") if value else []
    versions = sorted(int(version.version) for version in found)
    aliases = ", ".join(f"@{alias} ({version})" for alias, version in sorted(model.aliases.items()))
    listed = f"{'version' if len(versions) == 1 else 'versions'} {', '.join(map(str, versions))}"
    listed = listed if versions else "no versions"
    if aliases:
        listed += f"; aliases {aliases}"
    elif by_alias:
        listed += " and no alias"
    return f"'{name}' has {listed}."


def run_record(store: Any, run_id: str) -> tuple[Any, dict, list[str]]:
    """Run ``run_id``, its stored config (read as data: ``stored.fetch``) and its model's classes:
    what a request is checked against before its model is downloaded and Keras starts."""
    from mlflow.exceptions import MlflowException

    from runner.stored import fetch

    run, stored = fetch(store, run_id)
    try:
        with tempfile.TemporaryDirectory() as folder:
            names = Path(store.download_artifacts(run_id, "data/class_names.json", folder)).read_text()
    except (MlflowException, OSError) as err:
        raise RunnerError(
            f"run {run_id}: no data/class_names.json (it stopped before reading its data). "
            f"Use the id of a run that trained."
        ) from err
    try:
        return run, stored, json.loads(names)["class_names"]
    except (ValueError, KeyError, TypeError) as err:
        raise RunnerError(
            f"run {run_id}: its data/class_names.json cannot be read ({type(err).__name__}: {err}): cut "
            f"short or edited in the store. Train the run again: python -m runner.rerun {run_id}"
        ) from err


def load(store: Any, run: Any, best: bool) -> Any:
    """``run``'s model: the logged final one, or with ``best`` its last attempt's
    ``checkpoints/best.keras``; downloaded first, so that a run without it is refused before Keras
    starts, then loaded with ``safe_mode``."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from runner.tracking import attempts, outputs_path

    run_id = run.info.run_id
    checkpoint = f"{outputs_path(attempts(run) - 1)}/checkpoints/best.keras"
    try:
        with tempfile.TemporaryDirectory() as folder:
            if best:
                path = store.download_artifacts(run_id, checkpoint, folder)
            else:
                # Globally: MLflow finds a run's logged model (MLflow 3) through the global URI.
                mlflow.set_tracking_uri(store.tracking_uri)
                path = mlflow.artifacts.download_artifacts(f"runs:/{run_id}/model", dst_path=folder)
            import keras

            try:
                return (
                    keras.saving.load_model(path, safe_mode=True)
                    if best
                    else mlflow.keras.load_model(path, load_model_kwargs={"safe_mode": True})
                )
            except (ValueError, zipfile.BadZipFile) as err:  # Keras: "File not found" for a short zip
                raise unreadable(run_id, checkpoint if best else "logged model", Path(path), err) from err
    except (MlflowException, OSError) as err:
        why = (
            f"no {checkpoint} (it failed before its first epoch ended)"
            if best
            else "no logged model (it did not finish, or ran with tracking.log_model=false; --best "
            "takes its best checkpoint)"
        )
        raise RunnerError(f"run {run_id}: {why}. Use the id of a run that trained.") from err


def unreadable(run_id: str, artifact: str, path: Path, err: Exception) -> RunnerError:
    """A model the store holds but Keras cannot load from ``path`` (its file, or the folder MLflow
    downloaded): code that ``safe_mode`` refuses, a file damaged in the store (cut short by a disk
    error or an interrupted copy), or what Keras says."""
    if "safe_mode" in str(err):
        return RunnerError(
            f"run {run_id}: cannot load its {artifact}: it holds code (a Lambda layer), which safe_mode "
            f"does not load (a model read from a tracking store is data, not code)."
        )
    files = [path] if path.is_file() else list(path.rglob("*.keras"))
    if files and all(zipfile.is_zipfile(file) for file in files):
        said = str(err).splitlines() or [type(err).__name__]
        return RunnerError(f"run {run_id}: cannot load its {artifact}: {said[0]}")
    other = "its best checkpoint (--best)" if artifact == "logged model" else "its logged model (no --best)"
    return RunnerError(
        f"run {run_id}: cannot load its {artifact}: the file is damaged (no whole .keras zip). "
        f"Try {other}, or train the run again (python -m runner.rerun {run_id})."
    )


def tuned(store: Any, run_id: str, class_names: list[str], data: dict) -> np.ndarray:
    """Each class's threshold that multi-label run ``run_id`` (its stored ``data`` config) tuned on
    its validation images (``scores.log_thresholds``), in class order: ``--tuned``'s."""
    from mlflow.exceptions import MlflowException

    if not several_per_image(data):
        raise RunnerError(
            f"--tuned: picks each class's yes by its own threshold, and run {run_id} is not "
            f"multi-label (data.label_mode=multi_hot). Drop it."
        )
    from runner.record import csv_rows

    try:
        with tempfile.TemporaryDirectory() as folder:
            rows = csv_rows(Path(store.download_artifacts(run_id, TUNED, folder)), run_id, TUNED)
    except (MlflowException, OSError) as err:
        raise RunnerError(
            f"--tuned: run {run_id} logged no {TUNED} (a multi-label run tunes them on its "
            f"validation images). Drop --tuned: each class is then a yes at {THRESHOLD}."
        ) from err
    by_class = {row["class"]: float(row["threshold"]) for row in rows}
    return np.array([by_class[name] for name in class_names])


def flips(run_id: str, stored: dict) -> tuple[str, ...]:
    """The mirrorings ``--tta`` averages over: those the run trained on (``RandomFlip``'s modes, or
    the IDG mapping's ``horizontal_flip`` and ``vertical_flip``, in its stored ``aug``), as only
    they keep an image of its class: digits or text would not (a 'b' mirrored is a 'd'), nor a
    photo upside down. ("horizontal",), ("vertical",) or both."""
    found: set[str] = set()
    for op in ((stored.get("aug") or {}).get("ops") or {}).values():
        target = (op or {}).get("_target_")
        if target == "keras.layers.RandomFlip":
            found |= set(str(op.get("mode", "horizontal_and_vertical")).split("_and_"))
        if target == "runner.augment.image_data_generator":
            found |= {axis for axis in ("horizontal", "vertical") if op.get(f"{axis}_flip")}
    if not found:
        raise RunnerError(
            f"--tta: averages each image with its mirror image, and run {run_id} did not train on "
            f"mirrored images (no keras.layers.RandomFlip in its aug.ops), so a mirrored image need "
            f"not be of its class (a 'b' mirrored is a 'd'). Drop --tta, or train with aug=flip."
        )
    return tuple(sorted(found))


def temperature(run: Any, data: dict) -> float:
    """The temperature run ``run`` (its stored ``data`` config) calibrated its probabilities with
    on its validation images (``calibration.temperature_of``): ``--calibrated``'s."""
    if several_per_image(data) or a_number_each(data):
        raise RunnerError(
            f"--calibrated: rescales the probabilities of one class per image, and run "
            f"{run.info.run_id} is {data.get('label_mode')}. Drop it."
        )
    if "final_val_temperature" not in run.data.metrics:
        raise RunnerError(
            f"--calibrated: run {run.info.run_id} logged no final_val_temperature (it had no "
            f"validation images, or none that a temperature calibrates, as when every one is right, "
            f"or it was made before the runner fitted one). Drop --calibrated."
        )
    return run.data.metrics["final_val_temperature"]
