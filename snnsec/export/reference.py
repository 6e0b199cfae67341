"""Plain reference simulators of a population graph, in logical time (no synaptic delays).

- :func:`simulate_float` runs the folded float graph with the paper's neuron (``u >= theta``).
  It must equal the torch model: that checks the folding.
- :func:`simulate_fixed` runs the quantised graph with Loihi 2's integer CUBA update, written
  from lava-nc's bit-accurate models. Lava's fixed-point run must equal it step for step once
  each population's latency (its depth) is taken out.

Both run a batch at once with torch ops in float64, which is exact for these integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from snnsec.export.graph import INPUT, SpikingGraph, Synapse
from snnsec.export.quantize import DECAY_UNITY, SHIFT, V_LIMIT, FixedGraph

U_WRAP = 2**23


@dataclass
class Trace:
    """Spikes per population ``[T, B, *shape]`` (readout: None) and the readout's value per step.

    ``readout`` is the accumulated membrane ``[T, B, classes]``: for the float graph the running
    sum of logits, for the fixed graph Loihi's ``v`` (``64 * scale * sum of logits``).
    """

    spikes: list[np.ndarray | None]
    readout: np.ndarray


def _apply(syn: Synapse, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    if syn.kind == "conv":
        return F.conv2d(x, weight, stride=syn.stride, padding=syn.padding, groups=syn.groups)
    return F.linear(x.flatten(1), weight)


def _bias_view(bias: np.ndarray, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.from_numpy(np.asarray(bias, dtype=np.float64)).view(-1, *([1] * (len(shape) - 1)))


@torch.no_grad()
def simulate_float(graph: SpikingGraph, seq: np.ndarray) -> Trace:
    """Run the float graph on input steps ``seq`` ``[T, B, *input_shape]`` (``x - offset`` for
    direct input, as the host sends it)."""
    x_seq = torch.as_tensor(np.asarray(seq), dtype=torch.float64)
    T, B = x_seq.shape[:2]
    pops = graph.populations
    weights = [[torch.from_numpy(s.weight) for s in p.synapses] for p in pops]
    u = [torch.zeros(B, *p.shape, dtype=torch.float64) for p in pops]
    spikes: list[list[torch.Tensor]] = [[] for _ in pops]
    readout = []
    for t in range(T):
        outs: list[torch.Tensor] = []
        for i, p in enumerate(pops):
            cur = _bias_view(p.bias, p.shape).expand(B, *p.shape).clone()
            for syn, w in zip(p.synapses, weights[i]):
                src = x_seq[t] if syn.source == INPUT else outs[syn.source]
                cur += _apply(syn, src, w).view(B, *p.shape)
            if p.relay:
                z = (cur > 0.5).double()
            elif p.neuron is None:
                u[i] = u[i] + cur
                z = u[i]
            else:
                z, u[i] = p.neuron.plain_step(cur, u[i])
            outs.append(z)
            if p.neuron is not None or p.relay:
                spikes[i].append(z)
        readout.append(outs[-1].clone())
    return Trace([torch.stack(s).numpy() if s else None for s in spikes], torch.stack(readout).numpy())


def _trunc_decay(x: torch.Tensor, decay: int) -> torch.Tensor:
    """``sign(x) * ((|x| * (4096 - decay)) >> 12)``, lava-nc's truncating decay."""
    if decay == 0:
        return x
    return torch.sign(x) * torch.div(torch.abs(x) * (DECAY_UNITY - decay), DECAY_UNITY, rounding_mode="floor")


@torch.no_grad()
def simulate_fixed(fixed: FixedGraph, messages: np.ndarray) -> Trace:
    """Run the quantised graph on integer input messages ``[T, B, *input_shape]``."""
    x_seq = torch.as_tensor(np.asarray(messages), dtype=torch.float64)
    T, B = x_seq.shape[:2]
    pops = fixed.populations
    weights = [[torch.from_numpy(s.weight.astype(np.float64)) for s in p.synapses] for p in pops]
    u = [torch.zeros(B, *p.shape, dtype=torch.float64) for p in pops]
    v = [torch.zeros(B, *p.shape, dtype=torch.float64) for p in pops]
    spikes: list[list[torch.Tensor]] = [[] for _ in pops]
    readout = []
    for t in range(T):
        outs: list[torch.Tensor] = []
        for i, p in enumerate(pops):
            a = torch.zeros(B, *p.shape, dtype=torch.float64)
            for syn, w in zip(p.synapses, weights[i]):
                src = x_seq[t] if syn.source == INPUT else outs[syn.source]
                a += _apply(syn, src, w).view(B, *p.shape)
            cur = _trunc_decay(u[i], p.i_decay) + a * 2**SHIFT
            cur = torch.where(cur > U_WRAP, cur - 2 * U_WRAP, cur)      # 24-bit wrap, as lava-nc
            cur = torch.where(cur <= -U_WRAP, cur + 2 * U_WRAP, cur)
            u[i] = cur
            bias = _bias_view(p.bias, p.shape) * 2**SHIFT
            v[i] = torch.clamp(_trunc_decay(v[i], p.v_decay) + cur + bias, -V_LIMIT, V_LIMIT)
            z = (v[i] > p.vth_mant * 2**SHIFT).double()  # Loihi spikes if v > vth << 6
            v[i] = p.fixed_reset(v[i], z)
            outs.append(z)
            if p.spiking:
                spikes[i].append(z)
        readout.append(v[-1].clone())
    return Trace([torch.stack(s).numpy() if s else None for s in spikes], torch.stack(readout).numpy())
