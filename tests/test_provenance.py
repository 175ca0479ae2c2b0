"""The code and the machine a run records: commit, diff, versions; the kind of CPU."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

from runner.provenance import cpu, provenance


def test_a_dirty_checkout_records_its_diff_so_the_run_can_be_rebuilt(tmp_path):
    def git(*args: str) -> str:
        command = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    (tmp_path / "model.py").write_text("filters = 32\n")
    git("add", "model.py")
    git("commit", "-qm", "start")
    commit = git("rev-parse", "HEAD").strip()
    tags, diff = provenance(tmp_path)
    assert (tags["runner.git_commit"], diff) == (commit, "")
    (tmp_path / "model.py").write_text("filters = 64\n")  # an experiment nobody committed
    tags, diff = provenance(tmp_path)
    assert tags["runner.git_commit"] == f"{commit}-dirty" and "+filters = 64" in diff
    git("stash", "-q")  # the commit, then the diff applied: the code the run had
    (tmp_path / "run.diff").write_text(diff)
    git("apply", "run.diff")
    assert (tmp_path / "model.py").read_text() == "filters = 64\n"
    assert provenance(None) == ({"runner.versions": tags["runner.versions"]}, "")  # a wheel: no git


def test_a_checkout_on_a_machine_without_git_records_the_versions(tmp_path, monkeypatch):
    # A container that copied the checkout in and has no git: every run ended in FileNotFoundError.
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on it
    tags, diff = provenance(Path(__file__).parent.parent)
    assert list(tags) == ["runner.versions"] and diff == ""


def test_the_kind_of_cpu_is_its_model_and_the_extensions_that_pick_kernels(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 sha_ni\n\n"
        "processor\t: 1\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 sha_ni\n"
    )
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert cpu(cpuinfo) == "AMD EPYC (avx2 fma avx512f avx512_bf16)"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")  # oneDNN off: other kernels on the same CPU
    assert cpu(cpuinfo) == "AMD EPYC (avx2 fma avx512f avx512_bf16), TF_ENABLE_ONEDNN_OPTS=0"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Old Xeon\nflags\t\t: fpu sse2\n")
    assert cpu(cpuinfo).startswith("Old Xeon (no avx2)")
    assert cpu(tmp_path / "none").startswith(platform.machine())  # no /proc: macOS, Windows
