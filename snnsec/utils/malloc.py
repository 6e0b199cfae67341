"""glibc malloc settings for tensor workloads: keep freed tensor memory in the process.

PyTorch's CPU allocator asks the C library for every tensor. With glibc's defaults, blocks above
a dynamic threshold are fresh ``mmap`` regions, and free memory at the top of the heap goes back
to the kernel once it exceeds twice that threshold. A spiking network allocates and frees
``[B, C, H, W]`` tensors at every time step of every layer, so each training step or attack
iteration maps, zero-fills (page faults) and returns the same memory again: on the DVS vggdvs
training step (``benchmarks/malloc.py``) about 70,000 page faults and a sixth of the step's time
in the kernel.

:func:`tune_malloc` sets ``M_MMAP_THRESHOLD`` to 32 MiB (the largest value glibc's own dynamic
threshold reaches on 64-bit) and ``M_TRIM_THRESHOLD`` to 256 MiB: tensors below 32 MiB come from
the heap and stay there for the next step; up to 256 MiB of free heap is kept. Peak memory does
not change (the same tensors are live at the peak); a process may hold up to 256 MiB more after
its peak than before. Results do not change (allocation never changes arithmetic).

The ``snnsec`` CLI calls it at start-up, so every command, torchrun rank and forked Lava worker
runs with it. It does nothing where the C library has no ``mallopt`` (macOS, musl), where the
user set ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` (their choice wins), or with
``SNNSEC_MALLOC=default``. Library users may call it themselves.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20
TRIM_THRESHOLD = 256 * 2**20

_done: bool | None = None


def tune_malloc() -> bool:
    """Apply the settings above once per process; True if they are in effect."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if os.environ.get("SNNSEC_MALLOC", "") == "default" or not sys.platform.startswith("linux"):
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the running process's own C library
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success; setting the trim threshold alone would switch glibc's dynamic
    # mmap threshold off at 128 KiB (much worse), so the mmap threshold goes first and must hold
    if mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1:
        _done = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    return _done
