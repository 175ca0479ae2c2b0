"""How many cores this process may use (it sizes the decode threads and the batch gathers), and
what kind of CPU they are (its model and instruction set: results and speed depend on them).

``os.cpu_count()`` is the host's count. In a container (``docker --cpus``, a Kubernetes CPU
limit) or under ``taskset`` the process gets fewer, and a thread per host core only adds
contention: 64 decode threads time-sliced onto 2 cores are slower than 2.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"


def usable_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """Cores in this process's CPU affinity, capped by a cgroup v2 CPU quota (rounded up)."""
    affinity = getattr(os, "sched_getaffinity", None)  # not on macOS or Windows
    cores = len(affinity(0)) if affinity else os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()
        return max(1, min(cores, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):  # no cgroup v2 file, or no quota ("max")
        return cores


def model_and_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, set[str]]:
    """The CPU's model name and instruction-set flags, as Linux's ``cpuinfo`` names them (the
    first CPU's: the others are the same); elsewhere the architecture alone, and no flags."""
    model, flags = platform.machine(), set()
    with contextlib.suppress(OSError):
        for line in cpuinfo.read_text().splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "model name":
                model = value
            elif key == "flags":
                return model, set(value.split())
    return model, flags
