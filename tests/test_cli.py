"""runner.cli: what the commands share; here, their --help summaries."""

from __future__ import annotations

import importlib

import pytest


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
