"""A training process keeps the large blocks it frees (no page faults for each step's batches),
unless the user tuned malloc already. Each check runs in a fresh interpreter: malloc's settings
belong to the whole process."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")

# After SETUP, a 20 MB block (a float32 batch of 32 at 224² is 19 MB): the bytes malloc mapped
# for it (0 when it came from the heap), and the heap's free bytes once it is freed (kept or not;
# not their growth: the heap may have had the room free already, from the 64 MB top pad).
BLOCK = """
import ctypes, json
setup = {setup}
FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS.split()]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype, libc.malloc.restype = Info, ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
before = libc.mallinfo2()
block = libc.malloc(20 * 2**20)
mapped = libc.mallinfo2().hblkhd - before.hblkhd
libc.free(block)
print(json.dumps({{"setup": setup, "mapped": mapped, "kept": libc.mallinfo2().fordblks}}))
"""
MB = 2**20


def block_after(setup: str, *, env: dict | None = None, prelude: str = "") -> dict:
    code = prelude + BLOCK.format(setup=setup)
    environment = {**os.environ, **(env or {})}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_blocks_up_to_32_mb_come_from_the_heap_and_stay_after_free():
    kept = block_after("__import__('runner.memory').memory.keep_freed_memory()")
    assert kept["setup"] is True
    assert kept["mapped"] == 0
    assert kept["kept"] >= 20 * MB
    plain = block_after("None")  # glibc as it comes: pages of its own, handed back on free
    assert plain["mapped"] >= 20 * MB
    assert plain["kept"] < 20 * MB


@pytest.mark.parametrize(
    "env",
    [{"MALLOC_MMAP_THRESHOLD_": "131072"}, {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072"}],
)
def test_the_users_own_malloc_settings_win(env):
    found = block_after("__import__('runner.memory').memory.keep_freed_memory()", env=env)
    assert found["setup"] is False
    assert found["mapped"] >= 20 * MB


def test_a_training_run_keeps_freed_memory(tmp_path):
    # Refused on its trainer values right after the entry point, before TensorFlow starts.
    run = (
        "import sys\nfrom runner.__main__ import main\n"
        "sys.argv = ['runner', 'trainer.epochs=0']\n"
        "try:\n    main()  # what python -m runner calls\n"
        "except SystemExit as exit:\n    assert exit.code == 2, exit.code  # bad input\n"
    )
    found = block_after("None", prelude=run)
    assert found["mapped"] == 0
    assert found["kept"] >= 20 * MB
