"""Build a model's Lava process graph: through lava-dl NetX, or directly from lava-nc processes.

- :func:`netx_network` loads an exported NetX file with lava-dl's own ``netx.hdf5.Network``
  (fixed point only: lava-dl ships no float process models for its blocks).
- :func:`process_network` wires lava-nc ``Conv``/``Dense`` synapses and ``LIFReset`` neurons
  (``SoftResetLIF`` for soft-reset models) from a population graph, in fixed or floating point.
  It expresses what NetX cannot: residual additions (several synapses into one neuron's
  ``a_in`` port add up), relays, soft reset.

Both stream samples back to back: every neuron population zeroes its state every ``T`` steps,
at the phase where the next sample's first step reaches it. A population at depth ``d``
(synapses from the input) integrates input step ``k`` of sample ``j`` at time step
``j*T + k + 1 + d``, since the source emits at ``j*T + k + 1`` and each synapse adds one step;
so it resets when ``time_step % T == (1 + d) % T``. This equals NetX's
``reset_interval=T, reset_offset=1`` (NetX adds 1, then 1 per layer).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snnsec.backends.lava import _install_lava_compat  # noqa: F401  (patched Lava imports)
from snnsec.errors import InputError
from snnsec.export.graph import INPUT, SpikingGraph
from snnsec.export.quantize import FixedGraph, FixedPopulation

PRECISIONS = ("fixed", "float")  # the lava-sim backend's precisions (snnsec.backends.lava_sim re-exports them)


@dataclass
class LavaNetwork:
    """A built Lava graph and how to drive and read it.

    Attributes:
        inputs: in-ports the input source must feed (one per synapse on the input).
        input_shape: shape of one input step in Lava's (W, H, C) layout, or (N,).
        readout: the readout neurons' ``v`` Var (accumulated logits, never spikes).
        spikes: ``(population index, out-port, torch shape)`` of every spiking population.
        latency: synapses from input to readout: steps until an input step reaches the readout.
        T: steps per sample (the reset interval).
        precision: ``fixed`` or ``float``; message_bits: graded input bits (0: unary spikes).
        builder: ``netx`` or ``lava-nc``.
    """

    inputs: list[Any]
    input_shape: tuple[int, ...]
    readout: Any
    spikes: list[tuple[int, Any, tuple[int, ...]]]
    latency: int
    T: int
    precision: str
    message_bits: int
    builder: str
    processes: list[Any] = field(default_factory=list)
    depths: list[int] = field(default_factory=list)


def lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """torch (C, H, W) -> Lava (W, H, C); flat shapes unchanged."""
    return tuple(shape[::-1]) if len(shape) == 3 else tuple(shape)


def lava_conv_weight(weight: np.ndarray) -> np.ndarray:
    """torch (out, in, kh, kw) cross-correlation kernel -> Lava (out, kw, kh, in) convolution
    kernel (Lava's conv is a true convolution: flip the taps), exactly as NetX converts it."""
    return np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(0, 3, 2, 1))


def reset_offset(depth: int, T: int) -> int:
    return (1 + depth) % T


def netx_network(path: str | os.PathLike[str], T: int, message_bits: int) -> LavaNetwork:
    """Load a NetX file with lava-dl's ``netx.hdf5.Network`` for streaming with ``T``-step samples."""
    from lava.lib.dl import netx

    net = netx.hdf5.Network(net_config=str(path), input_message_bits=message_bits,
                            reset_interval=T, reset_offset=1)
    layers = net.layers
    spikes = [(i, layer.out, _torch_shape(tuple(layer.shape))) for i, layer in enumerate(layers[:-1])]
    in_shape = tuple(int(v) for v in net.inp.shape)
    return LavaNetwork([net.inp], in_shape, layers[-1].neuron.v, spikes, len(layers), T, "fixed",
                       message_bits, "netx", [net], list(range(1, len(layers) + 1)))


def _torch_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[::-1]) if len(shape) == 3 else shape


def process_network(graph: SpikingGraph | FixedGraph, precision: str) -> LavaNetwork:
    """Wire lava-nc processes for ``graph``: a :class:`FixedGraph` in fixed point, or a float
    :class:`SpikingGraph` in floating point."""
    from lava.proc.conv.process import Conv
    from lava.proc.dense.process import Dense

    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; choose one of: {', '.join(PRECISIONS)}")
    fixed = isinstance(graph, FixedGraph)
    if fixed != (precision == "fixed"):
        raise InputError(f"precision {precision!r} needs a {'FixedGraph' if precision == 'fixed' else 'float SpikingGraph'}")
    base = graph.graph if isinstance(graph, FixedGraph) else graph
    bits = graph.message_bits if isinstance(graph, FixedGraph) else (0 if base.input_spiking else 24)
    T = base.T
    neurons: list[Any] = []
    inputs: list[Any] = []
    procs: list[Any] = []
    spikes = []
    for i, (pop, fpop) in enumerate(zip(base.populations, _populations(graph))):
        neuron = _neuron(pop, fpop, precision, T)
        procs.append(neuron)
        for syn, fsyn in zip(pop.synapses, (fpop or pop).synapses):
            weight = fsyn.weight.astype(np.int32) if fixed else fsyn.weight.astype(np.float64)
            src_shape = base.input_shape if syn.source == INPUT else base.populations[syn.source].shape
            msg_bits = bits if syn.source == INPUT else 0
            if syn.kind == "conv":
                proc = Conv(weight=lava_conv_weight(weight), input_shape=lava_shape(src_shape),
                            padding=syn.padding[::-1], stride=syn.stride[::-1], groups=syn.groups,
                            num_message_bits=msg_bits)
            else:
                proc = Dense(weights=weight, num_message_bits=msg_bits)
            procs.append(proc)
            if syn.source == INPUT:
                inputs.append(proc.s_in)
            else:
                out = neurons[syn.source].s_out
                if syn.kind == "dense" and len(src_shape) == 3:
                    out = out.transpose([2, 1, 0]).flatten()  # torch's (C, H, W) flatten order
                out.connect(proc.s_in)
            proc.a_out.connect(neuron.a_in)  # several synapses into one a_in add up
        neurons.append(neuron)
        if pop.spiking:
            spikes.append((i, neuron.s_out, tuple(pop.shape)))
    first = base.populations[0].synapses[0]
    in_shape = lava_shape(base.input_shape) if first.kind == "conv" else (int(np.prod(base.input_shape)),)
    return LavaNetwork(inputs, in_shape, neurons[-1].v, spikes, base.latency, T, precision, bits, "lava-nc", procs,
                       [p.depth for p in base.populations])


def _populations(graph: SpikingGraph | FixedGraph) -> list[FixedPopulation | None]:
    if isinstance(graph, FixedGraph):
        return list(graph.populations)
    return [None] * len(graph.populations)


def _neuron(pop: Any, fpop: FixedPopulation | None, precision: str, T: int) -> Any:
    from lava.proc.lif.process import LIFReset

    shape = lava_shape(tuple(pop.shape))
    common: dict[str, Any] = {"shape": shape, "reset_interval": T, "reset_offset": reset_offset(pop.depth, T)}
    if fpop is not None:
        # iDecay = 4096 (u holds one step's input): lava-nc applies du + 1.
        common.update(du=fpop.i_decay - 1, dv=fpop.v_decay, vth=fpop.vth_mant, bias_exp=6,
                      bias_mant=np.broadcast_to(fpop.bias.astype(np.int32), shape).copy())
        if fpop.neuron is None:
            return LIFReset(**common)
        return fpop.neuron.lava_process(fpop.theta_mant, **common)
    bias = np.broadcast_to(np.asarray(pop.bias, dtype=np.float64), shape).copy()
    if pop.relay:
        return LIFReset(du=1.0, dv=1.0, vth=0.5, bias_mant=bias, **common)
    if pop.neuron is None:  # readout: integrate the logits, never spike
        return LIFReset(du=1.0, dv=0.0, vth=np.inf, bias_mant=bias, **common)
    n = pop.neuron
    common.update(du=1.0, dv=1.0 - n.leak, bias_mant=bias, vth=n.lava_threshold())
    return n.lava_process(n.theta, **common)


__all__ = ["PRECISIONS", "LavaNetwork", "lava_conv_weight", "lava_shape",
           "netx_network", "process_network", "reset_offset"]
