"""Plans for snnsec's own quantised graphs (:class:`~snnsec.export.quantize.FixedGraph`)."""

from __future__ import annotations


import numpy as np

from snnsec.emulator.engine import DEFAULT_BATCH, Emulator, finalize_plans
from snnsec.emulator.plan import LayerPlan, SynapsePlan
from snnsec.export.quantize import FixedGraph, FixedPopulation, input_message_range


def plan_fixed_graph(fixed: FixedGraph, float32: bool = True, pool: bool = True) -> list[LayerPlan]:
    """One :class:`LayerPlan` per population of ``fixed``, with exactness bounds and dtypes.

    ``float32=False`` forces float64 everywhere (the reference arithmetic); ``pool=False``
    keeps folded pool kernels unfactorised.
    """
    layers = []
    for fp in fixed.populations:
        syns = [SynapsePlan(s.source, s.kind, np.asarray(s.weight, dtype=np.int64), tuple(s.stride),
                            tuple(s.padding), (1, 1), int(s.groups), bool(s.flatten)) for s in fp.synapses]
        layers.append(LayerPlan(fp.name, tuple(fp.shape), syns, np.asarray(fp.bias, dtype=np.int64),
                                int(fp.vth_mant), int(fp.i_decay), int(fp.v_decay), spiking=bool(fp.spiking),
                                reset=fp.fixed_reset))  # the neuron model's integer reset
    lo, hi = input_message_range(fixed.graph, fixed.input_scale)
    input_max = np.maximum(np.abs(lo), np.abs(hi))
    return finalize_plans(layers, tuple(fixed.graph.input_shape), input_max, float32=float32, pool=pool, input_lo=lo)


def emulator_for(fixed: FixedGraph, device: str | None = None, batch_size: int = DEFAULT_BATCH,
                 time_chunk: int | None = None, float32: bool = True, pool: bool = True) -> Emulator:
    """An :class:`Emulator` of ``fixed`` (see :func:`plan_fixed_graph` for the options)."""
    return Emulator(plan_fixed_graph(fixed, float32=float32, pool=pool), tuple(fixed.graph.input_shape),
                    device=device, batch_size=batch_size, time_chunk=time_chunk)
