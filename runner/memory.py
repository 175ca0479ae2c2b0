"""Keep the memory a training process frees, instead of handing it back to the kernel each time.

glibc's malloc gives each block over its mmap threshold (128 KB at first, raised to at most
32 MB as such blocks are freed) pages of its own and unmaps them on free, and returns free heap
tops over its trim threshold. tf.data and Keras allocate and free the same large blocks at every
step (a batch of 32 uint8 images at 224² is 4.8 MB, 19 MB as float32; a model's activations and
gradients are blocks of that order), from many threads, so each step came back in fresh pages:
one page fault per 4 KB, each zeroed by the kernel, and on a VM whose host reclaims the pages a
guest frees, ~3.5 µs a fault (measured on a 2-core cloud VM: 35,000 faults a `fit` step of the
bench's small CNN, 100 ms of system time a step; ~45,000 a 5,000-image warm pass of the runner's cache).

Blocks up to 32 MB (glibc's most) now come from the heap, and freed heap stays in the process
(128 MB trim threshold; a 64 MB top pad, which is what keeps the threads' heaps from shrinking).
On that VM (``python -m runner.bench``, two runs each way): the runner's warm pass went from
25,000–27,000 to 43,000–53,000 images/s, image_dataset_from_directory's cold pass from
1,550–1,660 to 1,900–1,980, a `fit` epoch of the bench's small CNN from 65 to 55 s (compute
alone). The cost: resident memory, up to ~200 MB more than the process uses at the moment.

Your own malloc settings win: with GLIBC_TUNABLES naming ``glibc.malloc`` or any ``MALLOC_*_``
variable set, or on a C library other than glibc (macOS, musl), nothing is changed.
"""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's <malloc.h>
HEAP_BLOCKS_UP_TO = 32 * 2**20  # glibc refuses a larger mmap threshold on 64-bit
KEEP_FREED = 128 * 2**20  # at the main heap's top
TOP_PAD = 64 * 2**20  # each heap, the threads' ones too, grows and shrinks by this much more


def user_settings() -> list[str]:
    """The environment variables by which a user has already tuned glibc's malloc."""
    named = [key for key in os.environ if key.startswith("MALLOC_") and key.endswith("_")]
    if "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        named.append("GLIBC_TUNABLES")
    return named


def keep_freed_memory() -> bool:
    """Set glibc's malloc to keep what this process frees (see above); False when left as it was."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or user_settings():
        return False
    libc = ctypes.CDLL(None)
    settings = {M_MMAP_THRESHOLD: HEAP_BLOCKS_UP_TO, M_TRIM_THRESHOLD: KEEP_FREED, M_TOP_PAD: TOP_PAD}
    return all([libc.mallopt(option, value) for option, value in settings.items()])
