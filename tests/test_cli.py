"""runner.cli: what the commands share; here, their --help summaries."""

from __future__ import annotations

import argparse
import importlib

import pytest

from runner.cli import parsed, png_file, refuse_bad_options
from runner.errors import RunnerError


@pytest.mark.parametrize(
    "module",
    [
        "runner.export",
        "runner.check",
        "runner.preview",
        "runner.caches",
        "runner.lr_find",
        "runner.bench.__main__",
    ],
)
def test_a_commands_help_says_its_whole_summary(module, capsys):
    # Cut from its docstring's first line, export's said "a run's" and stopped there; caches'
    # showed reStructuredText's ``data.cache_dir``.
    with pytest.raises(SystemExit):
        importlib.import_module(module).main(["--help"])
    summary = " ".join(capsys.readouterr().out.split("\n\n")[1].split())
    assert summary[0].isupper() and summary.endswith(".") and "``" not in summary, summary


def test_options_hydra_has_or_starts_pass_and_others_are_refused_naming_the_nearest():
    for fine in (["--cf", "job"], ["-m", "trainer.seed=1,2", "~aug.ops.zoom", "lr=-1"], ["--resume"]):
        refuse_bad_options(fine, own=["--resume"])
    for given, said in [
        (["--cgf", "job"], "unrecognized option --cgf. Did you mean '--cfg'? Its options: --help, "),
        (["--bogus"], "unrecognized option --bogus. Its options: "),  # '--run' is no nearer than any
        (["--c", "job"], "unrecognized option --c. "),  # starts --cfg and --config-*: which?
        (
            ["--resme"],
            "unrecognized option --resme. Did you mean '--resume'? Its options: --help, --resume, --hydra",
        ),
        (["-c", "job", "--info"], "--cfg and --info: Hydra takes one of --run, --multirun, --cfg, --info, "),
    ]:
        with pytest.raises(RunnerError) as refused:
            refuse_bad_options(given, own=["--help", "--resume"])
        assert str(refused.value).startswith(said), str(refused.value)


def test_a_picture_out_without_an_extension_is_the_png_it_will_be(tmp_path, monkeypatch):
    # matplotlib saved --out lr as lr.png, and lr_find then said it wrote "lr".
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plots").mkdir()
    assert png_file("lr") == "lr.png" and png_file("plots/lr.PNG") == "plots/lr.PNG"
    with pytest.raises(argparse.ArgumentTypeError, match=r"no folder plot; make it \(mkdir -p plot\) first"):
        png_file("plot/lr.png")  # refused as the command starts, not as its range test ends


def test_an_option_a_command_lacks_is_refused_naming_its_nearest(capsys):
    # predict, evaluate, export, caches and bench: argparse said "unrecognized arguments: --tpo 3".
    import argparse

    parser = argparse.ArgumentParser(prog="python -m runner.predict")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--top", type=int, default=1)
    assert parsed(parser, ["a.jpg", "--top", "3"]).top == 3
    with pytest.raises(SystemExit):
        parsed(parser, ["a.jpg", "--tpo", "3"])
    line = capsys.readouterr().err.splitlines()[-1]
    assert line == (
        "python -m runner.predict: error: unrecognized option --tpo. Did you mean '--top'? "
        "Its options: --help, --top."  # no overrides to speak of: predict takes none
    )


def test_a_folder_name_the_shell_split_at_its_spaces_is_named_whole(tmp_path, capsys):
    # runner.evaluate RUN My Photos (2024): argparse said "unrecognized arguments: Photos (2024)".
    import argparse

    (tmp_path / "My Photos (2024)").mkdir()
    parser = argparse.ArgumentParser(prog="python -m runner.evaluate")
    parser.add_argument("run")
    parser.add_argument("folder")
    with pytest.raises(SystemExit):
        parsed(parser, ["abc123", *str(tmp_path / "My Photos (2024)").split(" ")])
    line = capsys.readouterr().err.splitlines()[-1]
    assert line == (
        f"python -m runner.evaluate: error: unrecognized arguments: Photos (2024). "
        f"'{tmp_path / 'My Photos (2024)'}' is there: the shell split its name at spaces. Quote it."
    )
    with pytest.raises(SystemExit):
        parsed(parser, ["abc123", str(tmp_path), "photos"])  # no such name: argparse's words alone
    assert capsys.readouterr().err.splitlines()[-1].endswith("unrecognized arguments: photos.")


def test_export_takes_tflite_for_litert():
    from runner.export import format_name

    assert format_name("TFLite") == "litert" and format_name("saved_model") == "saved_model"
