"""The decode threads and batch gathers are sized by the cores this process may use, not the host's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from runner.cpus import usable_cores

affinity = pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity here")


@affinity
def test_a_cgroup_quota_caps_the_cores_rounding_up(tmp_path):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")  # docker --cpus=1.5
    assert usable_cores(cpu_max) == min(2, len(os.sched_getaffinity(0)))
    cpu_max.write_text("20000 100000\n")  # a fifth of a core is still one thread
    assert usable_cores(cpu_max) == 1


@affinity
def test_no_quota_means_every_core_in_the_affinity(tmp_path):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("max 100000\n")
    assert usable_cores(cpu_max) == len(os.sched_getaffinity(0))
    assert usable_cores(tmp_path / "missing") == len(os.sched_getaffinity(0))


@affinity
def test_a_process_pinned_to_one_core_uses_one():
    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from runner.cpus import usable_cores; print(usable_cores())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
