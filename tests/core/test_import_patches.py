"""snnsec's imports of Norse and lava-dl leave matplotlib's pyplot unloaded until their plotting
code runs, and Norse's leave nir, nirtorch and h5py unloaded until its NIR converters run
(snnsec._lava_compat's deferred imports); that code still plots and converts. A fresh interpreter
each: what a module import loads is process-wide."""

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


NIR_PROBE = """
import sys
import snnsec.neurons, snnsec.models  # what every snnsec command imports, Norse among it
import norse
import torch
from norse.torch import from_nir, to_nir
import norse.torch.utils.export_nir as export_nir
before = [m for m in ("nir", "nirtorch", "h5py") if m in sys.modules]
model = torch.nn.Sequential(torch.nn.Linear(4, 3), norse.torch.LIFBoxCell())
graph = to_nir(model, torch.randn(1, 4))  # Norse's own converters: nir and nirtorch load now
back = from_nir(graph)
linear = next(m for m in back.modules() if isinstance(m, torch.nn.Linear))
print(before == [], type(export_nir.nir).__name__, type(graph).__name__,
      sorted(type(n).__name__ for n in graph.nodes.values()) == ["Affine", "Input", "LIF", "Output"],
      torch.equal(linear.weight, model[0].weight), all(m in sys.modules for m in ("nir", "nirtorch")))
"""


def test_norse_imports_without_nir_and_still_converts_to_and_from_nir() -> None:
    out = subprocess.run([sys.executable, "-c", NIR_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "SNNSEC_PROGRESS": "0"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "LazyModule", "NIRGraph", "True", "True", "True"], out.stdout
    assert "did not apply" not in out.stderr


LAVA_PROBE = """
import sys, warnings
import torch
warnings.filterwarnings("error", message="Cannot import module")  # Lava's compiler: a module file it executed failed
from snnsec.backends.replay import backend_predict
from snnsec.models import build_model
model = build_model("vgg5", num_classes=3, input_shape=(1, 8, 8), T=2, width=0.125, encoder="direct").eval()
x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
labels = backend_predict(model, x, "lava-sim", seed=0, precision="fixed", show_progress=False).labels
loaded = 'scipy.signal' in sys.modules  # compiled (conv processes included) and run: still unloaded
import lava.proc.conv.utils as conv_utils
import numpy as np
w = np.arange(18.0).reshape(2, 1, 3, 3)  # float data: Lava's own scipy convolution
out = conv_utils.conv_scipy(np.ones((4, 4, 1)), w, (3, 3), (1, 1), (1, 1), (1, 1), 1)
print(loaded, len(labels), type(conv_utils.signal).__name__, 'scipy.signal' in sys.modules, out.shape)
"""


def test_lava_compiles_and_runs_without_scipy_signal_until_its_convolution_runs() -> None:
    """Lava's compiler executes lava/proc/conv/utils.py again from its path (looking for process
    models); the rewritten compiler gives that copy the deferred import too."""
    out = subprocess.run([sys.executable, "-c", LAVA_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "SNNSEC_PROGRESS": "0", "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "2", "LazyModule", "True", "(4,", "4,", "2)"], out.stdout
    assert "did not apply" not in out.stderr
