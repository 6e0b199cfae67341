"""snnsec.utils.malloc: freed tensor memory stays in the process (no page faults on reuse), and
the opt-outs leave glibc's defaults alone. The measurement runs in a fresh interpreter: mallopt
is process-wide and cannot be undone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import ctypes, resource, torch
from snnsec.utils import malloc
# glibc starts with a 128 KiB mmap threshold and raises it as it goes, depending on what was freed
# before (so the defaults fault or not from run to run); held at its start value here, the
# untuned count is the same every run
ctypes.CDLL(None).mallopt(malloc.M_MMAP_THRESHOLD, 128 * 1024)
def faults():
    def loop():
        for _ in range(10):
            ts = [torch.ones(2**16 * (1 + i % 8)) for i in range(60)]  # 60 tensors of 0.25-2 MiB, then freed
            del ts
    loop()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    loop()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
untuned = faults()
print(malloc.tune_malloc(), untuned, faults())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_tuned_malloc_keeps_freed_tensor_memory_mapped():
    """10 rounds of 68 MiB in tensors of mixed sizes, as a network's layers allocate them: each
    round maps and faults its pages in again (about 16,000 a round here); after tune_malloc()
    the pages stay in the process."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "SNNSEC_MALLOC"))}
    out = subprocess.run([sys.executable, "-c", PROBE], env=clean, capture_output=True, text=True, timeout=120,
                         check=True).stdout.split()
    tuned, untuned, after = out[0] == "True", int(out[1]), int(out[2])
    assert tuned
    assert untuned > 10 * 4000, untuned
    assert after < untuned / 100, (after, untuned)


@pytest.mark.parametrize("env", [{"MALLOC_TRIM_THRESHOLD_": "1000000"}, {"MALLOC_MMAP_THRESHOLD_": "65536"},
                                 {"SNNSEC_MALLOC": "default"}])
def test_the_users_own_malloc_setting_wins(monkeypatch, env):
    """Returns before touching mallopt, so it is safe in this process."""
    from snnsec.utils import malloc

    monkeypatch.setattr(malloc, "_done", None)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert malloc.tune_malloc() is False


RELEASE_PROBE = """
import torch
from snnsec.utils import malloc
def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 // 2**20
assert malloc.tune_malloc()
base = rss_mib()
ts = [torch.ones(2**18) for _ in range(600)]  # 600 MiB in 1 MiB tensors, from the heap
held = rss_mib()
del ts
kept = rss_mib()  # tune_malloc keeps the freed heap in the process
released = malloc.release_free_memory()
print(released, held - base, kept - base, rss_mib() - base)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_returns_the_kept_heap_before_lava_forks():
    """What tune_malloc keeps for reuse (here 600 MiB of freed tensors, which a fork would map
    into every Lava worker) goes back to the kernel; live memory stays."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "SNNSEC_MALLOC"))}
    out = subprocess.run([sys.executable, "-c", RELEASE_PROBE], env=clean, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    released, held, kept, after = out[0] == "True", int(out[1]), int(out[2]), int(out[3])
    assert held >= 590, held
    assert kept >= 500, f"the freed heap should stay mapped under tune_malloc: {kept} MiB"
    assert released and after < 50, f"{after} MiB still mapped after the release"


def test_release_leaves_the_c_library_alone_when_told(monkeypatch):
    from snnsec.utils import malloc

    monkeypatch.setenv("SNNSEC_MALLOC", "default")
    assert malloc.release_free_memory() is False
