"""NetX in: run a NetX HDF5 file written by any tool on the emulator, in Lava's layout and timing.

:func:`run_netx` reads the file the way lava-dl 0.6.0's ``netx.hdf5.Network`` does
(``lava/lib/dl/netx/hdf5.py`` and ``blocks/process.py``) and emulates the fixed-point processes
that network builds (lava-nc's ``PyLifModelBitAcc``/``PyLifResetModelBitAcc``,
``PyDenseModelBitAcc``, ``PyDelayDenseModelBitAcc``, ``PyConvModelFixed``):

- ``input`` layers: with a ``neuron`` group they are a CUBA neuron layer driven, as lava-dl's
  ``Input`` block says, "through the neuron's bias": each input step is that step's bias
  mantissa (``v += x << 6``; the block leaves the neuron's ``a_in`` unconnected). NetX stores the
  layer's ``weight``/``bias`` as a transform it never applies, so they are ignored here too.
  (lava-dl 0.6.0 itself cannot run such a network on the CPU simulator: its ``PyInputModel``
  fails to compile with "No subcompiler exists"; the neuron's arithmetic is checked against a
  lava-nc LIF driven through its bias.) Without a neuron they only give the input shape.
- ``conv`` (stride, padding, dilation, groups; kernel read as netx does: a torch
  cross-correlation over the file's ``(C, H, W)``), ``flatten`` (torch order) and ``dense``.
- ``dense_rec``: the layer's own spikes of the previous step through ``weight_rec``.
- Dense weights go through netx's ``optimize_weight_bits`` and lava-nc's clip/truncate, and the
  summed current is shifted by the weight exponent, exactly as Lava does; conv currents wrap at
  24 bits.
- Synaptic delays (``delay``: per weight, per output or per input, clamped to 62) as
  ``DelayDense`` applies them.
- Neuron type ``CUBA`` or the older ``LOIHI``; a dense layer without a neuron gets netx's
  default integrator. ``gradedSpike`` is ignored for CUBA neurons, as netx does (a CUBA neuron
  always sends 1); ``input_message_bits > 0`` makes the network input graded.
- ``reset_interval`` / ``reset_offset`` as ``netx.hdf5.Network`` takes them.

Timing is Lava's: every synapse adds one step, so a layer's spikes at step ``t`` come from its
source's spikes at ``t - 1`` and every neuron integrates its bias from step 1, before any input
reaches it; the arrays returned equal what ``lava.proc.io.sink.RingBuffer`` sinks on each
layer's ``out`` port record over the same number of steps.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np
import torch

from snnsec.emulator.engine import DEFAULT_BATCH, Emulator, finalize_plans
from snnsec.emulator.plan import INPUT, LayerPlan, SynapsePlan
from snnsec.errors import InputError

log = logging.getLogger(__name__)

NEURON_TYPES = ("CUBA", "LOIHI")
MAX_DELAY = 62
# netx's neuron for a dense layer without one: a non-leaky integrator that never spikes
DEFAULT_NEURON = {"type": "CUBA", "iDecay": 0, "vDecay": 4096, "vThMant": 1 << 18 - 1}


@dataclass
class NetxLayer:
    """One emulated NetX layer.

    Attributes:
        index: the layer's position among the layers netx builds (``net.layers[index]``).
        type: ``input``, ``conv``, ``dense`` or ``dense_rec``.
        shape: Lava's shape of the layer (``(W, H, C)`` or ``(N,)``).
        spikes: ``[N, *shape, steps]``: what a sink on ``net.layers[index].out`` records.
        u, v: ``[N, *shape, steps]`` the neuron state after each step (``record_state=True``).
    """

    index: int
    type: str
    shape: tuple[int, ...]
    spikes: np.ndarray
    u: np.ndarray | None = None
    v: np.ndarray | None = None


@dataclass
class NetxRun:
    """:func:`run_netx`'s answer: one :class:`NetxLayer` per layer netx builds, and timing."""

    layers: list[NetxLayer] = field(default_factory=list)
    input_shape: tuple[int, ...] = ()
    seconds: float = 0.0
    plan: list[dict[str, Any]] = field(default_factory=list)

    @property
    def output(self) -> np.ndarray:
        """The last layer's spikes (what ``net.out`` sends)."""
        return self.layers[-1].spikes


def _read(group: h5py.Group, key: str) -> Any:
    value = group[key][()]
    if isinstance(value, np.ndarray) and value.dtype.kind in "SO" and value.ndim > 0:
        value = value[0]
    if isinstance(value, bytes):
        return value.decode("ascii")
    return value


def _pair(value: Any) -> tuple[int, int]:
    """netx's ``expand``: a scalar for both axes, else the file's (h, w)."""
    arr = np.asarray(value).reshape(-1)
    return (int(arr[0]), int(arr[0])) if arr.size == 1 else (int(arr[0]), int(arr[1]))


def _neuron(group: h5py.Group | dict[str, Any], where: str) -> dict[str, int]:
    get = (lambda k: group[k]) if isinstance(group, dict) else (lambda k: _read(group, k))  # noqa: E731
    kind = get("type")
    if kind not in NEURON_TYPES:
        raise InputError(f"{where}: neuron type {kind!r} is not a CUBA neuron; run_netx supports: "
                         f"{', '.join(NEURON_TYPES)}")
    keys = group.keys()
    if "messageBits" in keys and int(get("messageBits")) > 0:
        log.info("%s: messageBits=%s: Lava's CUBA neuron still sends unary spikes", where, get("messageBits"))
    return {"i_decay": int(get("iDecay")), "v_decay": int(get("vDecay")), "vth": int(get("vThMant"))}


def _optimize_weight_bits(weight: np.ndarray) -> tuple[np.ndarray, int, int]:
    """lava-dl netx's ``optimize_weight_bits`` (without its prints): weights, bits, exponent."""
    max_weight, min_weight = np.max(weight), np.min(weight)
    if (max_weight > 254 and min_weight < 0) or (min_weight < -256 and max_weight > 0):
        log.warning("weights outside [-256, 254] (%s..%s) are clipped, as netx does", min_weight, max_weight)
        weight = np.clip(weight, -256, 254)
        max_weight, min_weight = np.max(weight), np.min(weight)
    if max_weight < 0:
        scale, is_signed = -256 / min_weight, 0
    elif min_weight >= 0:
        scale, is_signed = (255 / max_weight if max_weight > 0 else np.inf), 0
    else:
        scale, is_signed = min(127 / max_weight, -128 / min_weight), 1
    if not np.isfinite(scale):  # all-zero weights: netx divides by zero; the weights stay zero
        return weight.astype(np.int64), 8, 0
    scale_bits = int(np.floor(np.log2(scale))) + is_signed
    n = 8
    while n > 0 and np.sum(np.abs(weight / (2**n) - np.round(weight / (2**n)))) != 0:
        n -= 1
    n -= is_signed
    num_weight_bits = 8 - scale_bits - n
    return np.left_shift(weight.astype(np.int64), scale_bits), int(num_weight_bits), -scale_bits


def _lava_dense_weights(weight: np.ndarray, num_weight_bits: int) -> np.ndarray:
    """lava-nc Dense's ``clip_weights`` + ``truncate_weights`` with its own sign mode."""
    w = weight.astype(np.int64)
    if w.min() >= 0:
        mode = "exc"
    elif w.max() <= 0:
        mode = "inh"
    else:
        mode = "mixed"
    mixed = int(mode == "mixed")
    if mode == "inh":
        w = -w
    w = np.clip(w, -(2**8) * mixed, 2**8 - 1)
    bits = 8 - num_weight_bits + mixed
    w = (w >> bits) << bits
    return -w if mode == "inh" else w


def _delays(grp: h5py.Group, weight: np.ndarray, where: str) -> np.ndarray:
    delay = np.asarray(grp["delay"][()])
    if delay.size and delay.max() > MAX_DELAY:
        log.warning("%s: delays up to %s are clamped to %d, as netx does", where, delay.max(), MAX_DELAY)
        delay = np.clip(delay, 0, MAX_DELAY)
    if delay.ndim == 0:
        delay = np.full(weight.shape, delay)
    elif delay.ndim == 1:
        if delay.size == weight.shape[0]:
            delay = np.repeat(delay.reshape(-1, 1), weight.shape[1], axis=1)
        elif delay.size == weight.shape[1]:
            delay = np.repeat(delay.reshape(1, -1), weight.shape[0], axis=0)
        else:
            raise InputError(f"{where}: delay of shape {delay.shape} fits neither the {weight.shape[0]} outputs "
                             f"nor the {weight.shape[1]} inputs of the weights {weight.shape}")
    if delay.shape != weight.shape:
        raise InputError(f"{where}: delay shape {delay.shape} does not match weight shape {weight.shape}")
    return delay.astype(int)


def _bias(grp: h5py.Group, shape: tuple[int, ...], where: str) -> np.ndarray:
    """Per-channel bias mantissas, torch layout ``(C,)`` (netx also takes a full per-neuron map)."""
    if "bias" not in grp:
        return np.zeros(shape[0], dtype=np.int64)
    b = np.asarray(grp["bias"][()]).astype(int)
    if len(shape) == 1 or b.shape == (shape[0],):
        return b.reshape(-1).astype(np.int64) if b.size == shape[0] else np.broadcast_to(b, (shape[0],)).astype(np.int64)
    raise InputError(f"{where}: only per-channel conv biases are supported, found shape {b.shape} for {shape}")


def _plans(path: str, input_message_bits: int, input_shape: tuple[int, ...] | None,
           reset_interval: int | None, reset_offset: int) -> tuple[list[LayerPlan], list[tuple[str, tuple[int, ...]]], tuple[int, ...], bool]:
    """Layer plans in Lava's timing, the (type, torch shape) of each, the torch input shape, and
    whether the input is unary."""
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path}: not an HDF5 file ({exc})") from None
    with f:
        if "layer" not in f:
            raise InputError(f"{path}: no /layer group; not a NetX file")
        group = f["layer"]
        plans: list[LayerPlan] = []
        kinds: list[tuple[str, tuple[int, ...]]] = []
        in_shape = tuple(int(v) for v in input_shape[::-1]) if input_shape is not None else None  # WHC -> CHW
        offset = reset_offset + 1  # time starts from 1 in hardware (netx)
        for i in range(len(group)):
            key = str(i)
            if key not in group:
                raise InputError(f"{path}: layers must be numbered 0..{len(group) - 1}; layer {i} is missing")
            grp = group[key]
            where = f"{path} layer {i}"
            kind = _read(grp, "type")
            reset = (reset_interval, offset % reset_interval) if reset_interval else None
            if kind == "input":
                shape = tuple(int(v) for v in np.asarray(grp["shape"][()]).reshape(-1))
                if "neuron" not in grp:
                    in_shape = shape
                    continue
                n = _neuron(grp["neuron"], where)
                in_shape = shape
                plans.append(LayerPlan(f"layer{i}", shape, [SynapsePlan(INPUT, "identity", np.zeros(0))],
                                       np.zeros(shape[0], dtype=np.int64), n["vth"], n["i_decay"], n["v_decay"],
                                       reset_every=reset, extra={"input_as_bias": True}))
                kinds.append(("input", shape))
                offset += 1
                continue
            if kind == "flatten":  # a dense layer on a (C, H, W) source reads it flattened, torch order
                continue
            if kind not in ("conv", "dense", "dense_rec"):
                raise InputError(f"{where}: layer type {kind!r} is not supported (lava-dl 0.6.0's netx does not "
                                 "implement it either); supported: input, conv, flatten, dense, dense_rec")
            source = len(plans) - 1 if plans else INPUT
            src_shape = plans[-1].shape if plans else in_shape
            if src_shape is None and kind != "conv":  # a dense first layer: its weights give the fan-in
                w0 = np.asarray(grp["weight"][()])
                in_shape = src_shape = (int(w0.size // int(np.prod(grp["shape"][()]))),)
            if src_shape is None:
                raise InputError(f"{where}: the input shape is unknown: give input_shape=(W, H, C) as netx needs")
            shape = tuple(int(v) for v in np.asarray(grp["shape"][()]).reshape(-1))
            # lava-nc reads a synapse's input as unary unless it carries message bits; a CUBA
            # neuron sends 0/1 either way, so only the network input can be graded
            unary = input_message_bits == 0 if source == INPUT else True
            n = _neuron(grp["neuron"], where) if "neuron" in grp else _neuron(DEFAULT_NEURON, where)
            if kind == "conv":
                if len(src_shape) != 3:
                    raise InputError(f"{where}: convolution on a flat input of shape {src_shape}")
                w = np.asarray(grp["weight"][()]).astype(int)
                w = w.reshape(w.shape[:4])
                syns = [SynapsePlan(source, "conv", w.astype(np.int64), _pair(grp["stride"][()]),
                                    _pair(grp["padding"][()]), _pair(grp["dilation"][()]),
                                    int(np.asarray(grp["groups"][()]).reshape(-1)[0]), lag=1, unary=unary)]
            else:
                out = int(np.prod(shape))
                shape = (out,)
                w = np.asarray(grp["weight"][()]).astype(int)
                w = w.reshape(out, -1) if w.ndim == 1 else w
                in_features = int(np.prod(src_shape))
                if w.shape[1] != in_features:
                    raise InputError(f"{where}: dense weights {w.shape} do not fit the {in_features} inputs of its source")
                if kind == "dense_rec":
                    wr = np.asarray(grp["weight_rec"][()]).astype(int)
                    wr = wr.reshape(out, -1) if wr.ndim == 1 else wr
                    both, bits, exp = _optimize_weight_bits(np.hstack((w, wr)))
                    w, wr = both[:, :w.shape[1]], both[:, w.shape[1]:]
                else:
                    w, bits, exp = _optimize_weight_bits(w)
                delays = None
                if "delay" in grp:
                    if kind == "dense_rec":
                        raise InputError(f"{where}: delays on a recurrent dense layer are not supported "
                                         "(lava-dl 0.6.0 builds mismatched delay processes for them)")
                    delays = _delays(grp, w, where)
                syns = [SynapsePlan(source, "dense", _lava_dense_weights(w, bits), flatten=len(src_shape) == 3,
                                    delays=delays, weight_exp=exp, lag=1, unary=unary)]
                if kind == "dense_rec":
                    syns.append(SynapsePlan(len(plans), "dense", _lava_dense_weights(wr, bits), recurrent=True,
                                            weight_exp=exp, unary=True))
            if kind == "conv":
                c = syns[0]
                want = (c.weight.shape[0],) + tuple(
                    (src_shape[1 + d] + 2 * c.padding[d] - c.dilation[d] * (c.weight.shape[2 + d] - 1) - 1) // c.stride[d] + 1
                    for d in range(2))
                if want != tuple(shape):
                    raise InputError(f"{where}: conv output {want} does not match the layer shape {shape}")
            plans.append(LayerPlan(f"layer{i}", shape, syns, _bias(grp, shape, where), n["vth"], n["i_decay"],
                                   n["v_decay"], reset_every=reset))
            kinds.append((kind, shape))
            offset += 1
        if not plans:
            raise InputError(f"{path}: no layers with neurons")
        if in_shape is None:
            raise InputError(f"{path}: the input shape is unknown: give input_shape=(W, H, C) as netx needs")
        return plans, kinds, tuple(in_shape), not (input_message_bits > 0 or kinds[0][0] == "input")


def _lava_layout(a: np.ndarray) -> np.ndarray:
    """``[N, T, *torch shape]`` -> ``[N, *Lava shape, T]`` (C, H, W -> W, H, C)."""
    a = np.moveaxis(a, 1, -1)
    if a.ndim == 5:
        a = a.transpose(0, 3, 2, 1, 4)
    return np.ascontiguousarray(a)


def run_netx(path: str | os.PathLike[str], inputs: np.ndarray | torch.Tensor, *, input_message_bits: int = 0,
             input_shape: tuple[int, ...] | None = None, reset_interval: int | None = None, reset_offset: int = 0,
             record_state: bool = False, device: str | None = None, batch_size: int = DEFAULT_BATCH) -> NetxRun:
    """Run a NetX HDF5 network on the emulator, bit-exact with Lava's fixed-point simulation.

    Args:
        path: the NetX file (written by lava-dl's slayer ``export_hdf5``, snnsec's exporter, ...).
        inputs: ``[N, *input shape in Lava's layout, steps]`` integer input per sample: what a
            ``lava.proc.io.source.RingBuffer`` feeding ``net.inp`` would send (``(W, H, C)`` for
            conv inputs, ``(features,)`` for dense ones). Each sample starts from zero state.
        input_message_bits: as ``netx.hdf5.Network``: 0 reads the input as unary spikes (any
            non-zero payload is a spike), more makes it graded (integer payloads).
        input_shape: as ``netx.hdf5.Network``: ``(W, H, C)`` when the file's input layer gives none.
        reset_interval, reset_offset: as ``netx.hdf5.Network``.
        record_state: also return every layer's ``u`` and ``v`` after each step.
        device: ``cpu``, ``cuda`` or ``None`` (cuda when available).
        batch_size: samples per batch.

    Returns:
        :class:`NetxRun`: per layer, spikes ``[N, *Lava shape, steps]`` equal to what a sink on
        that layer's ``out`` port records in a Lava run of the same ``steps`` (each layer one
        step after its source).

    Example::

        >>> run = run_netx("net.h5", spikes)          # spikes: [N, W, H, C, T] of 0/1
        >>> run.output.shape                          # [N, classes, T]
    """
    if reset_interval is not None and reset_interval < 1:
        raise InputError(f"reset_interval must be a positive number of steps or None, got {reset_interval}")
    if input_message_bits < 0:
        raise InputError(f"input_message_bits must be >= 0, got {input_message_bits}")
    plans, kinds, in_shape, unary_input = _plans(str(path), input_message_bits, input_shape, reset_interval, reset_offset)
    x = torch.as_tensor(np.asarray(inputs)) if not isinstance(inputs, torch.Tensor) else inputs
    lava_in = tuple(in_shape[::-1]) if len(in_shape) == 3 and plans[0].synapses[0].kind != "dense" else (int(np.prod(in_shape)),)
    if x.dim() != len(lava_in) + 2 or tuple(x.shape[1:-1]) != lava_in:
        raise InputError(f"inputs: expected [N, {', '.join(map(str, lava_in))}, steps] (Lava's layout), got {list(x.shape)}")
    if x.dtype.is_floating_point and not torch.equal(x, torch.round(x)):
        raise InputError("inputs: Lava messages are integers; found a non-integer value")
    x = torch.movedim(x, -1, 1)  # [N, T, *lava]
    if len(lava_in) == 3:
        x = x.permute(0, 1, 4, 3, 2)  # -> [N, T, C, H, W]
    x = x.to(torch.float64).contiguous()
    if plans[0].synapses[0].kind == "dense" and len(in_shape) == 3:
        in_shape = (int(np.prod(in_shape)),)
    peak = float(x.abs().max()) if x.numel() else 0.0
    peak = 1.0 if unary_input else peak
    lo = np.full(in_shape[0], -peak if not unary_input and float(x.min()) < 0 else 0.0)
    plans = finalize_plans(plans, tuple(in_shape), np.full(in_shape[0], max(peak, 1.0)), input_lo=lo)
    emu = Emulator(plans, tuple(in_shape), device=device, batch_size=batch_size)
    res = emu.run(x, record_spikes=True, record_state=record_state)
    layers = []
    for i, ((kind, shape), s) in enumerate(zip(kinds, res.spikes or [])):
        lava_shape = tuple(shape[::-1]) if len(shape) == 3 else tuple(shape)
        layers.append(NetxLayer(i, kind, lava_shape, _lava_layout(s),
                                _lava_layout(res.u[i]) if res.u is not None else None,
                                _lava_layout(res.v[i]) if res.v is not None else None))
    return NetxRun(layers, lava_in, res.seconds, emu.describe())


__all__ = ["NetxLayer", "NetxRun", "run_netx"]
