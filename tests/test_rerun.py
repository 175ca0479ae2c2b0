"""`python -m runner.rerun RUN_ID [--resume]`: a past run again, or continued, from its MLflow record."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import (
    client,
    compose,
    error_lines,
    fake_run,
    mlflow_runs,
    probe_cli,
    refusal,
    run_cli,
    started_run,
)

pytestmark = pytest.mark.slow
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")
# Pipeline augmentation and dropout draw random numbers every epoch: resuming must redraw them;
# early stopping counts epochs: resuming must carry its count (test_callbacks pins how); the
# learning rate schedule counts steps: resuming must carry the optimizer's step count.
ARGS = (
    "trainer.epochs=4",
    "aug=flip",
    "trainer.early_stopping_patience=2",
    "trainer.lr_schedule=cosine",
    "trainer.warmup_epochs=1",
    "tracking.log_model=false",
)


def rerun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd, module="runner.rerun")


def history(cwd: Path, run_id: str) -> dict[str, dict[int, float]]:
    """metric -> step -> value (the last one logged for a step, as a resumed run may repeat one)."""
    return {name: {m.step: m.value for m in client(cwd).get_metric_history(run_id, name)} for name in METRICS}


def by_name(cwd: Path, name: str):
    [run] = [run for run in mlflow_runs(cwd) if run.info.run_name == name]
    return run


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A working directory whose store holds one finished run, 'whole', of ARGS."""
    cwd = tmp_path_factory.mktemp("rerun")
    result = run_cli(f"data.path={cwd / 'digits'}", *ARGS, "tracking.run_name=whole", cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd


def best_checkpoint(cwd: Path, run_id: str, outputs: str) -> tuple[dict, list]:
    """``checkpoints/best.json`` and the weights of ``best.keras`` from a run's ``outputs``."""
    import keras

    folder = Path(client(cwd).download_artifacts(run_id, f"{outputs}/checkpoints", str(cwd / run_id)))
    record = json.loads((folder / "best.json").read_text())
    return record, keras.saving.load_model(folder / "best.keras", safe_mode=True).get_weights()


def interrupted(cwd: Path, name: str, sig: signal.Signals) -> str:
    """A run of ARGS stopped by ``sig`` after its first epoch; its id."""
    process = started_run(f"data.path={cwd / 'digits'}", *ARGS, f"tracking.run_name={name}", cwd=cwd)
    process.send_signal(sig)
    process.communicate(timeout=120)
    return by_name(cwd, name).info.run_id


def test_rerun_is_a_new_run_with_the_same_config_and_metrics(store):
    # Also the reproducibility test: two processes, one config and seed, identical metrics. The
    # rerun is unnamed, so MLflow names it with Python's random, which the seed had seeded: the
    # metrics must not depend on that either.
    whole = by_name(store, "whole")
    # As a (one-job) sweep: `-m` before the overrides is how a user asks for several seeds. By
    # its name (tracking.run_name, or the one MLflow gave it): the new run records its id.
    result = rerun("whole", "-m", "tracking.run_name=null", cwd=store)
    assert result.returncode == 0, result.stderr[-3000:]
    [again] = [run for run in mlflow_runs(store) if run.data.params["tracking.run_name"] == "None"]
    assert again.info.run_id != whole.info.run_id and again.info.status == "FINISHED"
    command = f"python -m runner.rerun {whole.info.run_id} tracking.run_name=null"
    assert again.data.tags["runner.command"] == command
    assert again.data.params["tracking.rerun_of"] == whole.info.run_id
    assert whole.data.tags["runner.cwd"] == again.data.tags["runner.cwd"] == str(store)
    changed = {k for k, v in again.data.params.items() if whole.data.params.get(k) != v}
    assert changed == {"tracking.rerun_of", "tracking.run_name"}
    assert history(store, again.info.run_id) == history(store, whole.info.run_id)
    assert "other files" not in result.stderr  # the same files: nothing to say


def test_a_rerun_on_files_changed_since_its_run_says_how_they_differ(store, tmp_path):
    # The run's folder with one file added, one taken away and one moved to another class: the
    # rerun trains on the files as they are now, and says so (a resume of it would be refused).
    # The folder is put back as it was after, for the module's other reruns of the run.
    run_id, digits = by_name(store, "whole").info.run_id, store / "digits"
    added, gone, moved = (
        digits / "1" / "added.png",
        sorted((digits / "2").iterdir())[0],
        digits / "3" / "moved.png",
    )
    relabelled = sorted((digits / "0").iterdir())[0]
    shutil.copy(relabelled, added)
    shutil.move(gone, tmp_path / gone.name)
    shutil.move(relabelled, moved)
    try:
        result = rerun(run_id, "trainer.epochs=2", "tracking.run_name=on_changed_files", cwd=store)
    finally:
        added.unlink()
        shutil.move(tmp_path / gone.name, gone)
        shutil.move(moved, relabelled)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        f"runner: note: run {run_id} trained on other files than this rerun reads: 2 added "
        f"(e.g. {added}); 2 removed (e.g. {relabelled}). This rerun trains on the files as they are "
        f"now, so its metrics may differ."
    ) in result.stderr


def test_rerun_overrides_change_what_they_name_and_cfg_job_stays_fast(store):
    run_id = by_name(store, "whole").info.run_id
    output, heavy = probe_cli(run_id, "trainer.epochs=7", "--cfg", "job", cwd=store, module="runner.rerun")
    assert heavy == ["mlflow"]  # reading the run needs MLflow, not TensorFlow
    shown = yaml.safe_load(output)
    assert shown["trainer"]["epochs"] == 7 and shown["data"]["path"] == str(store / "digits")
    assert shown["aug"]["ops"]["flip"]["_target_"] == "keras.layers.RandomFlip"


def test_resume_after_sigkill_gives_the_metrics_of_an_uninterrupted_run(store):
    # Killed without a word (out of memory, preemption): MLflow still says RUNNING, and only the
    # run's own output folder holds its log and backup.
    run_id = interrupted(store, "killed", signal.SIGKILL)
    assert client(store).get_run(run_id).info.status == "RUNNING"
    # Its backup, or its best checkpoint's record (the best value so far), cut short since (a disk
    # error, a copy of the folder that stopped): Keras failed on each inside fit, a traceback.
    # Refused, naming the file and leaving no copy of it; once it is whole again, resumed.
    folder = Path(client(store).get_run(run_id).data.tags["runner.output_dir"])
    [weights] = folder.glob("backup/epoch-*/latest.weights.h5")
    record = folder / "checkpoints" / "best.json"
    for cut, kept, said in [
        (
            weights,
            300,
            f"its backup in {folder / 'backup'} cannot be read ({weights.relative_to(folder / 'backup')}: "
            f"Unable to synchronously open file (truncated file: eof = 300",
        ),
        (
            record,
            20,
            f"its best checkpoint's record in {record.parent} cannot be read (best.json: JSONDecodeError: ",
        ),
    ]:
        whole = cut.read_bytes()
        cut.write_bytes(whole[:kept])
        copies = set(store.glob(f"outputs/**/{cut.name}"))
        damaged = rerun(run_id, "--resume", cwd=store)
        assert damaged.returncode == 2 and "Traceback" not in damaged.stderr
        [line] = error_lines(damaged)
        assert line.startswith(f"runner: error: run {run_id}: {said}"), line
        assert line.endswith(
            f"Put the whole file back, or run it again from its start as a new run: python -m "
            f"runner.rerun {run_id}"
        )
        assert client(store).get_run(run_id).data.tags["runner.attempts"] == "1"
        assert set(store.glob(f"outputs/**/{cut.name}")) == copies  # the refused attempt's copy removed
        cut.write_bytes(whole)
    result = rerun(run_id, "--resume", cwd=store)
    assert result.returncode == 0, result.stderr[-3000:]
    run = client(store).get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["runner.attempts"] == "2"
    assert "runner.error" not in run.data.tags
    assert history(store, run_id) == history(store, by_name(store, "whole").info.run_id)
    logged = {a.path for a in client(store).list_artifacts(run_id, "outputs")}
    assert {"outputs/runner.log", "outputs/backup", "outputs/resume-1"} <= logged
    backup = {a.path for a in client(store).list_artifacts(run_id, "outputs/backup/early_stopping")}
    assert "outputs/backup/early_stopping/states.json" in backup
    # The best checkpoint carried on across the kill: the same epoch and weights as uninterrupted.
    whole = by_name(store, "whole").info.run_id
    best = [best_checkpoint(store, *at) for at in ((whole, "outputs"), (run_id, "outputs/resume-1"))]
    assert best[0][0] == best[1][0]
    for a, b in zip(best[0][1], best[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_resume_on_another_machine_reads_the_backup_from_mlflow(store):
    # Stopped as a scheduler or a cloud's preemption stops it (SIGTERM): marked so, not left RUNNING.
    run_id = interrupted(store, "stopped", signal.SIGTERM)
    assert client(store).get_run(run_id).info.status == "KILLED"
    shutil.rmtree(client(store).get_run(run_id).data.tags["runner.output_dir"])  # only MLflow has it now
    changed = rerun(run_id, "--resume", "trainer.seed=1", cwd=store)
    assert changed.returncode == 2
    assert "differs at trainer.seed (run: 42, now: 1)" in error_lines(changed)[0]
    assert client(store).get_run(run_id).info.status == "KILLED"  # refused before anything was touched
    digits = store / "digits"
    added, removed = digits / "3" / "added.png", sorted((digits / "7").iterdir())[0]
    shutil.copy(removed, added)
    removed.rename(store / "aside.png")
    changed = rerun(run_id, "--resume", cwd=store)
    added.unlink()
    (store / "aside.png").rename(removed)
    [line] = error_lines(changed)
    assert f"1 added (e.g. {added}); 1 removed (e.g. {removed})" in line
    run = client(store).get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags["runner.attempts"] == "1"
    result = rerun(run_id, "--resume", cwd=store)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "starts again at epoch 0" not in result.stderr
    run = client(store).get_run(run_id)
    assert run.info.status == "FINISHED" and "runner.error" not in run.data.tags  # Ctrl-C's, before
    assert history(store, run_id) == history(store, by_name(store, "whole").info.run_id)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (  # or from its last epoch's model, in a new run
            ["--resume"],
            [
                "finished; there is nothing to resume",
                "trainer.epochs=N",
                "model=file model.path=/",
                "/last.keras,",
            ],
        ),
        (["data=dir"], ["data=dir: a rerun keeps the run's data option", "python -m runner data=dir"]),
        (["trainer.epochz=3"], ["trainer.epochz", "Did you mean 'epochs'?"]),
    ],
)
def test_bad_rerun_requests_are_one_line(store, args, expected):
    result = rerun(by_name(store, "whole").info.run_id, *args, cwd=store)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert all(part in line for part in expected), line


def test_resuming_a_finished_run_made_by_other_code_is_refused_without_a_note_first(store, tmp_path):
    # The note that the run's commit differs came first, then the refusal: a note about a resume
    # that does not happen.
    whole = by_name(store, "whole").info.run_id
    config = Path(client(store).download_artifacts(whole, "config.yaml", str(tmp_path))).read_text()
    run_id = fake_run(store, yaml.safe_load(config))
    client(store).set_tag(run_id, "runner.git_commit", "0" * 40)
    client(store).set_terminated(run_id, "FINISHED")
    result = rerun(run_id, "--resume", cwd=store)
    assert result.returncode == 2 and "runner: note:" not in result.stderr
    assert f"run {run_id} finished; there is nothing to resume" in error_lines(result)[0]
    assert "runner: note: run " in rerun(run_id, "--cfg", "job", cwd=store).stderr  # a rerun: said


def test_a_stored_config_is_data_not_code(tmp_path, capsys, monkeypatch):
    run_id = fake_run(tmp_path, {"model": {"_target_": "os.system", "command": "touch pwned"}})
    result = rerun(run_id, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert "model._target_=os.system: not allowed" in line
    assert not (tmp_path / "pwned").exists()
    # The others in this process: the same entry point, its line and exit code.
    from runner.rerun import main

    monkeypatch.chdir(tmp_path)
    for planted, expected in [
        ({"_target_": "runner.models.small_cnn", "dense": "${oc.env:HOME}"}, "model.dense='${oc.env:HOME}'"),
        (["not", "a", "group"], "not a runner config"),
    ]:
        line = refusal(main, [fake_run(tmp_path, {"model": planted})], capsys)
        assert expected in line, line


def test_a_key_this_runner_lacks_names_the_code_the_run_was_made_with(tmp_path, capsys):
    # A run made by a runner that had a key since renamed: Hydra stopped on it in its own words
    # ("In 'rerun': ConfigKeyError raised while composing config: Key 'patience' not in ...").
    from omegaconf import OmegaConf

    from runner.rerun import main

    stored = OmegaConf.to_container(compose(), resolve=True, enum_to_str=True)
    uri = f"tracking.uri={client(tmp_path).tracking_uri}"  # MLflow keeps a relative URI's first store
    for planted, tags, key, made_by in [
        (
            {"trainer": {**stored["trainer"], "patience": 3}},
            {"runner.git_commit": "0123abcd-dirty"},
            "trainer.patience: this runner has no such key. Did you mean 'plateau_patience'?",
            "commit 0123abcd-dirty (git checkout 0123abcd, then git apply its code/git.diff)",
        ),
        (
            {"logging": {"level": "info"}},
            {"runner.versions": '{"runner": "0.0.1"}'},
            "logging:",
            "runner 0.0.1",
        ),
        ({"augment": {}}, {}, "augment: this runner has no such key. Did you mean 'aug'?", "another version"),
    ]:
        run_id = fake_run(tmp_path, {**stored, **planted})
        for name, value in tags.items():
            client(tmp_path).set_tag(run_id, name, value)
        line = refusal(main, [run_id, uri], capsys)
        assert line.startswith(f"runner: error: run {run_id}'s {key}"), line
        assert f"The run was made by {made_by}" in line and line.endswith(
            "(python -m runner --cfg job lists them)."
        )


def test_a_key_added_since_the_run_takes_its_default_and_says_so(tmp_path):
    from omegaconf import OmegaConf

    from runner.rerun import differences

    cfg = compose()
    stored = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    del stored["trainer"]["top_k"], stored["data"]["image_size"]  # a run older than both keys
    run_id = fake_run(tmp_path, stored)
    result = rerun(run_id, "--cfg", "job", "trainer.top_k=5", cwd=tmp_path)  # set: no note for it
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        f"runner: note: run {run_id} was made before this runner had data.image_size; this rerun "
        f"gives it its default: data.image_size=[64,64] (override to change)."
    ) in result.stderr.splitlines()
    assert yaml.safe_load(result.stdout)["data"]["image_size"] == [64, 64]
    # A resume of it goes on: a key the run had no value for is not a change of its config...
    assert differences(stored, cfg) == []
    # ...while a value it had still is.
    assert differences(stored, compose("trainer.epochs=3")) == ["trainer.epochs (run: 10, now: 3)"]


def test_unknown_run_and_missing_store_are_one_line(tmp_path):
    result = rerun("0123abcd", cwd=tmp_path)
    assert result.returncode == 2 and "no MLflow store there" in error_lines(result)[0]
    assert not (tmp_path / "mlflow.db").exists()  # reading a store never creates one
    fake_run(tmp_path, {"model": {"_target_": "runner.models.small_cnn"}})
    result = rerun("0123abcd", cwd=tmp_path)
    assert result.returncode == 2 and "run 0123abcd: not found" in error_lines(result)[0]
