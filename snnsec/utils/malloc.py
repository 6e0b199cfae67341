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

Tensors above 32 MiB (glibc's ceiling for that threshold) are still mapped afresh each time. At
batch 64 x T = 10 the first layers of a quarter-width vggdvs are. Faulting their fresh pages in
(page faults, memory accounting, zeroing) made system time 28 % of the ``dvs-mnist5k`` study
preset's CPU time on a VM (docs/reproduce.md), and ``perf`` found 32 % of a short training run's
samples in the kernel. glibc's own ``MALLOC_MMAP_MAX_=0`` puts them in the heap too.
``benchmarks/malloc.py --only train-dvs --modes tuned heap`` (one thread, 3 rounds) timed that
model's training step at 2.43 s instead of 3.48 s (1.43x), at 0.75 GB more peak memory (3.1 GB
against 2.4). snnsec leaves that trade to the user.

The ``snnsec`` CLI calls it at start-up, so every command, torchrun rank and forked Lava worker
runs with it. It does nothing where the C library has no ``mallopt`` (macOS, musl), where the
user set ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` (their choice wins), or with
``SNNSEC_MALLOC=default``. Library users may call it themselves.

The heap it keeps has a cost where a process forks: every page the parent maps is copied into
each child's page tables and shared copy-on-write until the child exits. Lava's runtime forks
one worker per Lava process, so :func:`release_free_memory` hands the free heap back to the
kernel (glibc's ``malloc_trim``) just before it starts (:mod:`snnsec.backends.lava.runner`).
A pytest worker that had crafted and loaded data held about 1.2 GB, 0.4 GB after the release,
and the bit-exact Lava tests ran in 12 CPU-s instead of 17, most of the difference system time.
``benchmarks/lava_fork.py`` runs both side by side: with 750 MiB freed in holes of the heap, a
small lava-sim runtime cost 1.10 CPU-s kept and 0.69 released (1.6x), the same labels.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from typing import Any

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20
TRIM_THRESHOLD = 256 * 2**20

_done: bool | None = None


def _libc(name: str, argtypes: list[Any]) -> Callable[..., int] | None:
    """The running process's own C library function ``name`` (returning int), or None where
    snnsec leaves the allocator alone: ``SNNSEC_MALLOC=default``, not Linux, or no such function."""
    if os.environ.get("SNNSEC_MALLOC", "") == "default" or not sys.platform.startswith("linux"):
        return None
    try:
        fn = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = argtypes, ctypes.c_int
    return fn


def tune_malloc() -> bool:
    """Apply the settings above once per process; True if they are in effect."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    mallopt = _libc("mallopt", [ctypes.c_int, ctypes.c_int])
    if mallopt is None:
        return False
    # mallopt returns 1 on success; setting the trim threshold alone would switch glibc's dynamic
    # mmap threshold off at 128 KiB (much worse), so the mmap threshold goes first and must hold
    if mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1:
        _done = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    return _done


def release_free_memory() -> bool:
    """Return the free heap to the kernel (glibc ``malloc_trim(0)``) before a fork: the pages
    kept for reuse would otherwise be mapped into every child. Live memory is untouched and
    nothing is computed differently; the next allocations fault their pages in again. Does
    nothing without glibc or with ``SNNSEC_MALLOC=default``. True if memory was released."""
    trim = _libc("malloc_trim", [ctypes.c_size_t])
    return trim is not None and bool(trim(0))
