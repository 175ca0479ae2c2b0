"""runner.rerun_checks: what a rerun says (other code, another kind of CPU) or refuses (a stored
function not named again, relative paths read from another folder) before it runs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import client, compose, error_lines, fake_run, refusal, run_cli

from runner.errors import RunnerError
from runner.rerun_checks import require_same_folder


def rerun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd, module="runner.rerun")


def rerun_of_a_run_tagged(tmp_path: Path, tag: str, value: str) -> tuple[str, list[str]]:
    """A planted run with ``tag=value``, rerun with ``--cfg job``: its id, and the rerun's stderr lines."""
    from omegaconf import OmegaConf

    run_id = fake_run(tmp_path, OmegaConf.to_container(compose(), resolve=True, enum_to_str=True))
    client(tmp_path).set_tag(run_id, tag, value)
    result = rerun(run_id, "--cfg", "job", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    return run_id, result.stderr.splitlines()


def test_a_rerun_on_other_code_than_the_runs_says_so(tmp_path, capsys):
    from runner.provenance import provenance
    from runner.rerun_checks import note_other_code

    now = provenance()[0].get("runner.git_commit")  # None from a wheel: nothing to compare with
    run_id, stderr = rerun_of_a_run_tagged(tmp_path, "runner.git_commit", "0123abcd")
    note = (
        f"runner: note: run {run_id} was made by commit 0123abcd (git checkout 0123abcd); this "
        f"checkout is at commit {now}, so this rerun's code, and so its metrics, may differ."
    )
    assert (note in stderr) == (now is not None)
    client(tmp_path).set_tag(run_id, "runner.git_commit", now or "")
    note_other_code(client(tmp_path).get_run(run_id))
    assert "runner: note" not in capsys.readouterr().err  # the run's own code: nothing to say


def test_a_rerun_on_another_kind_of_cpu_says_its_metrics_may_differ(tmp_path, capsys):
    # Other vector extensions (AVX-512, oneDNN's kernels) sum in other orders: the last digits move.
    from runner.provenance import cpu
    from runner.rerun_checks import note_other_cpu

    run_id, stderr = rerun_of_a_run_tagged(tmp_path, "runner.cpu", "Imaginary 9000 (avx2 fma)")
    note = (
        f"runner: note: run {run_id} was made on another kind of CPU (Imaginary 9000 (avx2 fma)) than "
        f"this one ({cpu()}): TensorFlow runs other kernels here, so this rerun's metrics may differ "
        f"in their last digits."
    )
    assert note in stderr
    note_other_cpu(client(tmp_path).get_run(run_id), resume=True)  # a resume's later epochs
    assert note.replace("this rerun's", "the resumed run's") in capsys.readouterr().err
    client(tmp_path).set_tag(run_id, "runner.cpu", cpu())
    note_other_cpu(client(tmp_path).get_run(run_id))
    assert "runner: note" not in capsys.readouterr().err  # the run's own kind of CPU: nothing to say


@pytest.mark.parametrize(("group", "option"), [("data", "generator"), ("model", "function")])
def test_a_stored_function_is_called_only_when_the_rerun_names_it(group, option, tmp_path):
    from omegaconf import OmegaConf

    planted = compose(f"{group}={option}", f"{group}.fn=os:system", f"+{group}.kwargs.command=touch pwned")
    run_id = fake_run(tmp_path, OmegaConf.to_container(planted, resolve=True, enum_to_str=True))
    result = rerun(run_id, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert f"run {run_id}'s {group}.fn=os:system: a function its stored config names" in line
    assert line.endswith(f"add {group}.fn=os:system to the command.")
    assert not (tmp_path / "pwned").exists()
    named = rerun(run_id, f"{group}.fn=my_code:make", "--cfg", "job", cwd=tmp_path)  # the user's own choice
    assert named.returncode == 0, named.stderr[-2000:]
    assert "fn: my_code:make" in named.stdout and not (tmp_path / "pwned").exists()


def test_a_rerun_elsewhere_is_refused_while_its_relative_paths_would_read_other_files(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (project / "pets").mkdir(parents=True)
    elsewhere.mkdir()
    config = compose("data=dir", "data.path=pets", "data.test_path=/photos/test")
    stored = OmegaConf.to_container(config, resolve=True, enum_to_str=True)
    run_id = fake_run(tmp_path, stored)
    client(tmp_path).set_tag(run_id, "runner.cwd", str(project))  # as runner.tracking records it
    uri = f"tracking.uri=sqlite:///{tmp_path}/mlflow.db"
    result = rerun(run_id, uri, "--cfg", "job", cwd=elsewhere)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert f"run {run_id} ran in {project} and reads data.path=pets relative to it;" in line
    assert line.endswith(
        f"(cd {project}), or give the full paths: python -m runner.rerun {run_id} "
        f"data.path={project / 'pets'}"
    )
    # What may go on, in this process: the full path, the run's own folder, a folder of another machine.

    run = client(tmp_path).get_run(run_id)
    for cwd, args in [(elsewhere, [f"data.path={project / 'pets'}"]), (project, [])]:
        monkeypatch.chdir(cwd)
        require_same_folder(run, stored, args, resume=False)
    monkeypatch.chdir(elsewhere)
    with pytest.raises(RunnerError) as refused:  # a resume must keep the paths: only the cd is offered
        require_same_folder(run, stored, [], resume=True)
    assert str(refused.value).endswith(f"Rerun it from there (cd {project})")
    shutil.rmtree(project)
    require_same_folder(run, stored, [], resume=False)


def test_the_store_is_given_as_predict_evaluate_and_export_take_it(tmp_path):
    from omegaconf import OmegaConf

    stored = OmegaConf.to_container(compose(), resolve=True, enum_to_str=True)
    run_id = fake_run(tmp_path, stored)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    result = rerun(run_id, "--tracking-uri", uri, "--cfg", "job", cwd=elsewhere)
    assert result.returncode == 0, result.stderr[-2000:]
    tracking = yaml.safe_load(result.stdout)["tracking"]
    assert tracking["uri"] == uri and tracking["rerun_of"] == run_id  # logged there too
    for args, expected in [
        (["--tracking-uri", uri, "tracking.uri=sqlite:///other.db"], "two stores; give one."),
        (["--tracking-uri=sqlite:///mlfow.db"], "--tracking-uri=sqlite:///mlfow.db: no MLflow store there."),
    ]:
        refused = rerun(run_id, *args, cwd=tmp_path)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        [line] = error_lines(refused)
        assert expected in line, line
    assert "Did you mean --tracking-uri=sqlite:///mlflow.db?" in line


def test_an_option_rerun_lacks_is_refused_before_the_store_is_read(tmp_path, capsys, monkeypatch):
    from runner.rerun import main

    monkeypatch.chdir(tmp_path)  # no store here: the option is refused first
    line = refusal(main, ["abcdef", "--resme"], capsys)
    assert line.startswith("runner: error: unrecognized option --resme. Did you mean '--resume'? ")
