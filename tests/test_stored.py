"""runner.stored: a past run found by id or name, its config read back as data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import client, compose, fake_run


def test_a_run_is_found_by_its_name_when_one_run_has_it(tmp_path):
    from runner.errors import RunnerError
    from runner.stored import find_run

    store = client(tmp_path)
    experiment = store.create_experiment("runner")
    quoted, first, second = (
        store.create_run(experiment, run_name=name, start_time=1_700_000_000_000 + i)  # ms apart
        for i, name in enumerate(("it's", "twice", "twice"))
    )
    assert find_run(store, "it's").info.run_id == quoted.info.run_id  # MLflow's filters have no escapes
    assert find_run(store, first.info.run_id).info.run_name == "twice"
    with pytest.raises(RunnerError) as refused:
        find_run(store, "twice")
    assert str(refused.value) == (
        f"run twice: 2 runs in {store.tracking_uri} have that name, latest first: "
        f"{second.info.run_id} (RUNNING), {first.info.run_id} (RUNNING). Give the id of one."
    )
    with pytest.raises(RunnerError, match="run nameless: not found in .*: no run has that id or name.$"):
        find_run(store, "nameless")
    with pytest.raises(RunnerError, match="no run has that id or name. Did you mean 'twice'\\?$"):
        find_run(store, "twcie")  # a name misspelt
    # The start of an id, as git takes a commit's: 6 characters at least.
    assert find_run(store, quoted.info.run_id[:8]).info.run_id == quoted.info.run_id
    assert find_run(store, first.info.run_id[:6].upper()).info.run_id == first.info.run_id
    with pytest.raises(RunnerError, match="not found"):
        find_run(store, second.info.run_id[:5])


def test_a_run_whose_artifacts_were_moved_says_where_it_looked(tmp_path):
    from runner.errors import RunnerError
    from runner.stored import fetch

    run_id = fake_run(tmp_path, {"model": {"_target_": "runner.models.small_cnn"}})
    artifacts = Path(client(tmp_path).get_run(run_id).info.artifact_uri.removeprefix("file://"))
    shutil.rmtree(artifacts)  # mlruns/ moved, or cleaned up by hand
    with pytest.raises(RunnerError) as refused:
        fetch(client(tmp_path), run_id)
    assert str(refused.value) == (
        f"run {run_id}: its config.yaml is not among its artifacts at {artifacts}: that folder was "
        f"moved or deleted (a sqlite store keeps them in mlruns/ beside it), or the runner did not "
        f"make this run."
    )


def test_a_config_cut_short_in_the_store_is_said_so(tmp_path):
    # A copy of the store that stopped: Hydra then asked for "tracking: needs a value", and predict
    # said "fold=None: Incompatible value 'None' for field of type 'int'"; YAML's own error took lines.
    from omegaconf import OmegaConf

    from runner.errors import RunnerError
    from runner.stored import fetch

    text = yaml.safe_dump(OmegaConf.to_container(compose(), resolve=True, enum_to_str=True), sort_keys=False)
    store = client(tmp_path)
    run_id = fake_run(tmp_path, {})
    for cut, expected in [
        (
            text[: text.index("\ntracking:")],
            f"run {run_id}'s config.yaml: has no tracking group, which every run's config has: it was "
            f"cut short or edited in the store. Use another run, or start a new one.",
        ),
        (
            "data:\n  image_size: [32,\n",
            f"run {run_id}'s config.yaml: not YAML (expected the node content, but found '<stream "
            f"end>' at line 3, column 1): cut short or edited in the store.",
        ),
    ]:
        store.log_text(run_id, cut, "config.yaml")
        with pytest.raises(RunnerError) as refused:
            fetch(store, run_id)
        assert str(refused.value) == expected


@pytest.mark.parametrize(
    "options", [["data=dir", "model=application"], ["data=glob", "model=file"], ["data=generator"]]
)
def test_what_this_runner_records_it_takes_back(options):
    from conftest import compose
    from omegaconf import OmegaConf

    from runner.stored import unknown_key

    stored = OmegaConf.to_container(compose(*options), resolve=True, enum_to_str=True)
    assert unknown_key(stored) is None
    stored["trainer"]["patience"] = 3  # a key a rerun's Hydra would stop on
    assert unknown_key(stored) == ("trainer.patience", " Did you mean 'plateau_patience'?")


@pytest.mark.parametrize("module", ["predict", "evaluate", "export"])
def test_a_store_that_is_not_there_is_named_by_the_option_that_points_at_it(module, tmp_path, capsys):
    # These take --tracking-uri, not rerun's tracking.uri=: the line names the one they take.
    import importlib

    from conftest import refusal, write_image

    main = importlib.import_module(f"runner.{module}").main
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    given = {"predict": [str(write_image(tmp_path / "cat.png"))], "evaluate": [str(tmp_path)], "export": []}
    argv = ["0123abcd", *given[module], "--tracking-uri", uri]
    assert refusal(main, argv, capsys) == (
        f"runner: error: --tracking-uri={uri}: no MLflow store there. Run this where the run was "
        f"trained, or point --tracking-uri at its store."
    )
    assert not (tmp_path / "mlflow.db").exists()  # reading a store never creates one
    (tmp_path / "runs.db").write_bytes(b"")  # the store there, named another way
    said = refusal(main, [*argv[:-1], f"sqlite:///{tmp_path}/rusn.db"], capsys)
    assert f"no MLflow store there. Did you mean --tracking-uri=sqlite:///{tmp_path}/runs.db? Run" in said
