"""snnsec's import of Norse leaves matplotlib's pyplot unloaded until Norse's plotting code runs
(snnsec._lava_compat's deferred import), and that code still plots. A fresh interpreter each:
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
loaded = 'matplotlib.pyplot' in sys.modules
import torch
from norse.torch.utils.plot.plot import plot_spikes_2d
ax = plot_spikes_2d(torch.rand(20, 8) > 0.5)  # Norse's own plotting: pyplot is imported now
print(loaded, type(ax).__name__, 'matplotlib.pyplot' in sys.modules, type(norse.torch.utils.plot.plot.plt).__name__)
"""


def test_norse_imports_without_pyplot_and_still_plots() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg", "SNNSEC_PROGRESS": "0"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "Axes", "True", "LazyModule"]
    assert "did not apply" not in out.stderr
