r"""Is the model rate coded? The spike-shuffle test and the R-I curve (paper §4.1, Figs. 4-5).

**Spike shuffle** (§4.1, Table 1): each neuron's output spike train is randomly permuted in time
before the next layer sees it. Spike counts, hence rates :math:`r = \frac1T\sum_t s(t)` (Eq. 11),
are unchanged; any timing code is destroyed. If accuracy barely moves, the network is rate coded,
which is the premise of RGA.

**R-I curve** (§4.3, Figs. 4a/5a): for every neuron, the pair (time-averaged input current
:math:`\bar I`, firing rate :math:`r`), plotted against the static R-I curve of Eq. (18) and the
relaxed curve whose slope RGA uses (Eq. 15/19).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from snnsec.errors import InputError
from snnsec.models.base import SpikingModel
from snnsec.neurons import LIF, NeuronModel, NeuronState, RateRecorder, overriding
from snnsec.utils.device import module_device


class SpikeShuffle:
    """Neuron override: the real dynamics, then each neuron's spikes permuted over the T steps."""

    def __init__(self, generator: torch.Generator) -> None:
        self.generator = generator

    def __call__(self, layer: LIF, x: torch.Tensor, state: NeuronState | None) -> tuple[torch.Tensor, NeuronState]:
        z, state = layer.integrate(x, state)
        order = torch.rand(z.shape, generator=self.generator).argsort(0).to(z.device)  # drawn on the CPU
        return z.gather(0, order), state


def _samples(data: Dataset, n: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` samples of ``data``, chosen as the attacks choose them (a fixed permutation)."""
    from snnsec.data.base import sample_indices, stack_samples

    index = sample_indices(len(data), n)
    if len(index) < 1:
        raise InputError(f"need at least one sample, got n={n} with {len(data)} in the split")
    return stack_samples(data, index)


def _accuracy(model: SpikingModel, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    return float((model.predict(x, batch_size) == y).double().mean())


def shuffle_report(
    model: SpikingModel, data: Dataset, n: int | None = None, runs: int = 3, seed: int = 0, batch_size: int = 256
) -> dict[str, Any]:
    """Clean accuracy against accuracy with spikes shuffled in time (mean over ``runs`` draws)."""
    if runs < 1:
        raise InputError(f"runs must be at least 1, got {runs}")
    x, y = _samples(data, n)
    model.eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # Poisson encoders draw from the global RNG
        clean = _accuracy(model, x, y, batch_size)
        shuffled = []
        for r in range(runs):
            gen = torch.Generator().manual_seed(seed + 1 + r)
            with overriding(model, SpikeShuffle(gen)), model.chunked(None):
                shuffled.append(_accuracy(model, x, y, batch_size))
    mean = sum(shuffled) / runs
    return {"n": len(y), "T": model.T, "runs": runs, "clean_accuracy": clean, "shuffled_accuracy": mean,
            "shuffled_accuracies": shuffled, "difference": mean - clean}


@dataclass
class LayerSample:
    """Per-neuron (mean input current, rate) pairs of one layer, flattened over batch and units."""

    name: str
    neuron: NeuronModel
    current: torch.Tensor
    rate: torch.Tensor


@torch.no_grad()
def sample_rate_current(model: SpikingModel, data: Dataset, n: int | None = 64, batch_size: int = 64) -> list[LayerSample]:
    """(Ī, r) of every neuron of every layer over ``n`` samples, in forward order."""
    x, _ = _samples(data, n)
    names = {m: name for name, m in model.named_modules() if isinstance(m, LIF)}
    currents: dict[LIF, list[torch.Tensor]] = {}
    rates: dict[LIF, list[torch.Tensor]] = {}
    model.eval()
    dev = module_device(model)
    for i in range(0, len(x), batch_size):
        rec = RateRecorder()
        with rec.recording(model):
            model(x[i : i + batch_size].to(dev))
        for layer, acc in rec.layers.items():
            currents.setdefault(layer, []).append(acc.mean_current.flatten().cpu())
            rates.setdefault(layer, []).append(acc.rate.flatten().cpu())
    return [LayerSample(names[m], m.neuron, torch.cat(currents[m]), torch.cat(rates[m])) for m in model.neurons() if m in currents]


def ri_summary(samples: list[LayerSample], beta: float = 2.0, gamma: float = 0.2) -> list[dict[str, Any]]:
    """Per layer: neurons sampled, mean rate, share of Ī where RGA's slope is non-zero, and the
    mean absolute error of the static curve (Eq. 18) and of RGA's relaxed curve against the data."""
    rows = []
    for s in samples:
        inside = (s.current >= 0) & (s.current <= beta * s.neuron.theta)
        rows.append({
            "layer": s.name,
            "neurons": int(s.current.numel()),
            "mean_rate": float(s.rate.mean()),
            "silent": float((s.rate == 0).double().mean()),
            "rga_support": float(inside.double().mean()),
            "static_mae": float((s.neuron.static_rate(s.current) - s.rate).abs().mean()),
            "rga_mae": float((s.neuron.rga_rate(s.current, beta, gamma) - s.rate).abs().mean()),
        })
    return rows


def plot_ri_curve(
    samples: list[LayerSample], path: str | os.PathLike[str], beta: float = 2.0, gamma: float = 0.2,
    max_points: int = 4000, seed: int = 0,
) -> Path:
    """Scatter (Ī, r) per layer over the static R-I curve and RGA's relaxed curve; write a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from snnsec.utils.io import atomic_write

    cols = min(4, len(samples))
    rows = (len(samples) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    gen = torch.Generator().manual_seed(seed)
    for ax, s in zip(axes.flat, samples):
        keep = torch.randperm(s.current.numel(), generator=gen)[:max_points]
        cur, rate = s.current[keep], s.rate[keep]
        theta = s.neuron.theta
        hi = max(float(cur.max()), beta * theta * 1.25)
        lo = min(float(cur.min()), -0.25 * theta)
        grid = torch.linspace(lo, hi, 600, dtype=torch.float64)
        ax.scatter(cur, rate, s=3, alpha=0.3, color="tab:blue", label="neurons", rasterized=True)
        ax.plot(grid, s.neuron.static_rate(grid), color="tab:orange", lw=1.2, label="static R-I (Eq. 18)")
        ax.plot(grid, s.neuron.rga_rate(grid, beta, gamma), color="tab:green", lw=1.2, label="RGA surrogate (Eq. 19)")
        ax.set_title(f"{s.name} (λ={s.neuron.leak:g})", fontsize=8)
        ax.set_xlabel("mean input current Ī", fontsize=7)
        ax.set_ylabel("firing rate r", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_ylim(-0.05, 1.05)
    for ax in list(axes.flat)[len(samples):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)
    return path
