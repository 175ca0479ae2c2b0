"""How many cores this process may use: it sizes the decode threads and the batch gathers.

``os.cpu_count()`` is the host's count. In a container (``docker --cpus``, a Kubernetes CPU
limit) or under ``taskset`` the process gets fewer, and a thread per host core only adds
contention: 64 decode threads time-sliced onto 2 cores are slower than 2.
"""

from __future__ import annotations

import math
import os
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
