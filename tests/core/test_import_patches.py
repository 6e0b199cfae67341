"""snnsec's imports of Norse and lava-dl leave matplotlib's pyplot unloaded until their plotting
code runs (snnsec._lava_compat's deferred imports), and that code still plots. A fresh interpreter each:
what a module import loads is process-wide."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
import snnsec.neurons, snnsec.models  # what every snnsec command imports, Norse among it
import norse
import snnsec.backends.lava.network  # what lava-sim deploys import: Lava, lava-dl's NetX and slayer
loaded = 'matplotlib.pyplot' in sys.modules
import torch
from norse.torch.utils.plot.plot import plot_spikes_2d
ax = plot_spikes_2d(torch.rand(20, 8) > 0.5)  # Norse's own plotting: pyplot is imported now
from lava.lib.dl.slayer.utils import stats
print(loaded, type(ax).__name__, 'matplotlib.pyplot' in sys.modules, type(norse.torch.utils.plot.plot.plt).__name__,
      type(stats.plt).__name__, stats.plt.figure is sys.modules['matplotlib.pyplot'].figure)
"""


def test_norse_imports_without_pyplot_and_still_plots() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg", "SNNSEC_PROGRESS": "0"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "Axes", "True", "LazyModule", "LazyModule", "True"]
    assert "did not apply" not in out.stderr
