"""snnsec.utils.malloc: freed tensor memory stays in the process (no page faults on reuse), and
the opt-outs leave glibc's defaults alone. Each case runs in a fresh interpreter: mallopt is
process-wide and cannot be undone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import resource, torch
from snnsec.utils.malloc import tune_malloc
tuned = tune_malloc()
def loop():
    for _ in range(20):
        ts = [torch.ones(2**16 * (1 + i % 8)) for i in range(60)]  # 60 tensors of 0.25-2 MiB, then all freed
        del ts
loop()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
loop()
print(tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def probe(**env: str) -> tuple[bool, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "SNNSEC_MALLOC"))}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_reused_tensor_memory_faults_in_once_and_opt_outs_keep_the_defaults():
    tuned, faults = probe()
    default, default_faults = probe(SNNSEC_MALLOC="default")
    assert tuned and not default
    # 20 rounds of 68 MiB in tensors of mixed sizes, as a network's layers allocate them: with
    # glibc's defaults they are mapped and faulted in again every round (about 16,000 pages a
    # round here, with one or two threads); tuned, the pages stay in the process
    assert default_faults > 20 * 4000, default_faults
    assert faults < default_faults / 20, (faults, default_faults)


@pytest.mark.parametrize("env", [{"MALLOC_TRIM_THRESHOLD_": "1000000"}, {"MALLOC_MMAP_THRESHOLD_": "65536"},
                                 {"SNNSEC_MALLOC": "default"}])
def test_the_users_own_malloc_setting_wins(monkeypatch, env):
    """Returns before touching mallopt, so it is safe in this process."""
    from snnsec.utils import malloc

    monkeypatch.setattr(malloc, "_done", None)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert malloc.tune_malloc() is False
