"""Lava still imports after something has fixed multiprocessing's start method."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.lava


def test_lava_imports_after_a_progress_bar_fixed_the_start_method():
    code = (
        "import multiprocessing as mp\n"
        "mp.RLock()  # what tqdm's first bar does: fixes the default start method\n"
        "from snnsec._lava_compat import install; install()\n"
        "from lava.lib.dl import netx\n"
        "from lava.proc.lif.process import LIF\n"
        "print(mp.get_start_method())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "fork"
