"""How the emulator computes each population exactly, decided once when the graph is built.

Loihi's synaptic input ``a = W @ s`` is an integer sum. A float type holds every integer up to
``2**mantissa`` exactly, and a sum whose partial sums all stay below that bound is computed
exactly in any order (every intermediate value is an integer the type can hold, so no addition
rounds). The partial sums of ``a`` never exceed ``sum_j |W_ij| * max|s_j|``, whatever the
order a BLAS or convolution kernel uses, so:

- a synapse runs in **float32** when ``max_i sum_j |W_ij| * max|s_j| <= 2**24``;
- otherwise in **float64** (exact to ``2**53``; beyond that the graph is refused).

``max|s_j|`` is 1 for spikes and the largest message magnitude of the input channel for graded
input. The bound is derived per synapse from the quantised weights, the fan-in and the input
range, and checked here, when the plan is built.

**Pooled convolutions.** The exporter folds ``2x2 pool + k x k conv (stride s, padding p)`` into
one ``2k x 2k`` kernel with stride ``2s`` and padding ``2p`` that repeats each tap in a 2x2 block.
When the *quantised* folded kernel still repeats in 2x2 blocks (verified exactly, per layer), the
folded sum equals a 2x2 **sum** pool followed by the ``k x k`` integer kernel (stride ``s``,
padding ``p``): the same integers added in another order, at a quarter of the multiply-adds. A
dense layer on a flattened map whose weights repeat in 2x2 blocks factorises the same way. The
bound is unchanged (each pooled value is at most 4 spikes, and the kernel has a quarter of the
taps).

**Neuron state.** ``u`` and ``v`` are 24-bit integers. For a population without synaptic memory
(``iDecay = 4096``) and without leak (``vDecay = 0``), every addend of ``v`` is a multiple of 64
below ``2**24`` in magnitude until ``v`` saturates, so float32 holds the state exactly (see
:func:`state_dtype_for`); other populations keep their state in float64, like
:func:`snnsec.export.reference.simulate_fixed`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from snnsec.errors import InputError
from snnsec.utils.intervals import interval_sums

INPUT = -1
F32_EXACT = 2**24   # every integer of magnitude <= 2**24 is a float32
F64_EXACT = 2**53
U_WRAP = 2**23      # lava-nc wraps u into (-2**23, 2**23]
V_LIMIT = 2**23 - 1  # and saturates v at +-(2**23 - 1)
SHIFT = 6
DECAY_UNITY = 4096


@dataclass
class SynapsePlan:
    """One integer synapse as the emulator runs it.

    Attributes:
        source: index of the source layer, or :data:`INPUT`.
        kind: ``conv`` or ``dense``.
        weight: the integer weights (int64, torch layout) after any pool factorisation.
        stride, padding, dilation, groups: conv geometry (after factorisation).
        flatten: dense on a flattened ``(C, H, W)`` map (torch order).
        pool: 2 when a 2x2 sum pool of the source precedes the (factorised) weights, else 1.
        bound: the largest possible magnitude of any partial sum of ``a``.
        dtype: float32 or float64, chosen from ``bound``.
        delays: dense only: per-weight synaptic delays in steps (``None``: no extra delay).
        recurrent: the source is the layer itself, one step earlier.
        weight_exp: lava-nc Dense's weight exponent: ``a`` is shifted by it (floor on the right).
        wrap_a: conv only: ``a`` may leave 24 bits, where lava-nc's Conv wraps it.
        a_range: the smallest and largest value ``a`` itself can take (signed, for the wraps).
        lag: steps between the source's output and this synapse's current (0 in logical time;
            1 in Lava's time, where every Dense/Conv process adds one step).
        unary: the synapse reads its input as a spike (any non-zero payload counts 1), as lava-nc's
            Dense/Conv do with ``num_message_bits = 0``.
    """

    source: int
    kind: str
    weight: np.ndarray
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    flatten: bool = False
    pool: int = 1
    bound: float = 0.0
    dtype: torch.dtype = torch.float64
    delays: np.ndarray | None = None
    recurrent: bool = False
    weight_exp: int = 0
    wrap_a: bool = False
    a_range: tuple[float, float] = (0.0, 0.0)
    lag: int = 0
    unary: bool = False

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "pool": self.pool, "bound": int(self.bound),
                "dtype": str(self.dtype).replace("torch.", ""), "weights": list(self.weight.shape),
                "delays": self.delays is not None, "recurrent": self.recurrent}


@dataclass
class LayerPlan:
    """One population: its synapses, Loihi's CUBA constants, and how to reset and record it.

    Attributes:
        name, shape: as in the graph (torch layout).
        synapses: currents that add into ``a``.
        bias: integer bias mantissa per channel (the neuron adds ``bias << 6``).
        vth_mant: spike iff ``v > vth_mant << 6``.
        i_decay, v_decay: Loihi's 12-bit decays (4096: no memory).
        spiking: whether its spikes are recorded (the readout's are not).
        reset: ``reset(v, z) -> v`` in Loihi integers (the neuron model's reset).
        out_max: the largest magnitude of what it sends (1: Loihi's CUBA neuron sends unary spikes).
        state_dtype: dtype of ``u`` and ``v``.
        wrap_u: whether ``u`` can leave the 24-bit range (else the wrap is skipped, provably).
        reset_every: ``(interval, offset)``: zero ``u`` and ``v`` before the update of every Lava
            time step ``k`` (counted from 1) with ``k % interval == offset`` (lava-nc's LIFReset).
    """

    name: str
    shape: tuple[int, ...]
    synapses: list[SynapsePlan]
    bias: np.ndarray
    vth_mant: int
    i_decay: int = DECAY_UNITY
    v_decay: int = 0
    spiking: bool = True
    reset: Any = None
    out_max: float = 1.0
    state_dtype: torch.dtype = torch.float64
    wrap_u: bool = True
    reset_every: tuple[int, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "state": str(self.state_dtype).replace("torch.", ""),
                "wrap_u": self.wrap_u, "synapses": [s.describe() for s in self.synapses]}


def partial_sum_bound(syn: SynapsePlan, in_max: np.ndarray, src_shape: tuple[int, ...]) -> float:
    """``max_i sum_j |W_ij| * in_max[channel(j)]``: no partial sum of ``a`` can exceed it.

    ``in_max`` is the largest input magnitude per source channel (pooled sources: per pooled
    value, i.e. 4x the spike bound, which the caller passes).
    """
    in_max = np.asarray(in_max, dtype=np.float64).reshape(-1)
    if syn.kind == "identity":
        return float(in_max.max(initial=0.0))
    w = np.abs(syn.weight.astype(np.float64))
    if syn.kind == "conv":
        out, per_group = w.shape[:2]
        groups = syn.groups
        idx = (np.arange(out)[:, None] // (out // groups)) * per_group + np.arange(per_group)[None, :]
        m = in_max[idx] if len(in_max) > 1 else np.full(idx.shape, in_max[0])
        return float((w.sum(axis=(2, 3)) * m).sum(axis=1).max(initial=0.0))
    cols = w.shape[1]
    if len(in_max) == cols:
        m = in_max
    elif syn.flatten and len(src_shape) == 3 and len(in_max) == src_shape[0]:
        m = np.repeat(in_max, cols // src_shape[0])
    else:
        m = np.full(cols, in_max.max(initial=0.0))
    return float((w * m[None, :]).sum(axis=1).max(initial=0.0))


def signed_range(syn: SynapsePlan, lo: np.ndarray, hi: np.ndarray, src_shape: tuple[int, ...]) -> tuple[float, float]:
    """The smallest and largest value of ``a`` for inputs in ``[lo, hi]`` per source channel
    (zero padding is covered: ``lo <= 0 <= hi``)."""
    lo = np.asarray(lo, dtype=np.float64).reshape(-1)
    hi = np.asarray(hi, dtype=np.float64).reshape(-1)
    if syn.kind == "identity":
        return float(lo.min(initial=0.0)), float(hi.max(initial=0.0))
    w = syn.weight.astype(np.float64)
    if syn.kind == "conv":
        out, per_group = w.shape[:2]
        idx = (np.arange(out)[:, None] // (out // syn.groups)) * per_group + np.arange(per_group)[None, :]
        l = (lo[idx] if len(lo) > 1 else np.full(idx.shape, lo[0]))[..., None, None]
        h = (hi[idx] if len(hi) > 1 else np.full(idx.shape, hi[0]))[..., None, None]
        axes: tuple[int, ...] = (1, 2, 3)
    else:
        cols = w.shape[1]
        if len(lo) == cols:
            l, h = lo[None, :], hi[None, :]
        elif syn.flatten and len(src_shape) == 3 and len(lo) == src_shape[0]:
            l, h = np.repeat(lo, cols // src_shape[0])[None, :], np.repeat(hi, cols // src_shape[0])[None, :]
        else:
            l, h = np.full((1, cols), lo.min(initial=0.0)), np.full((1, cols), hi.max(initial=0.0))
        axes = (1,)
    top, bottom = interval_sums(w, l, h, axes)
    return float(bottom.min(initial=0.0)), float(top.max(initial=0.0))


def choose_dtype(bound: float, name: str, allow_float32: bool = True) -> torch.dtype:
    """float32 when every partial sum is provably an integer float32 holds, else float64."""
    if bound > F64_EXACT:
        raise InputError(f"{name}: synaptic sums may reach {bound:.3g}, beyond float64's exact integers "
                         f"(2**53); no exact emulation")
    return torch.float32 if allow_float32 and bound <= F32_EXACT else torch.float64


def factorise_pool(syn: SynapsePlan, src_shape: tuple[int, ...]) -> SynapsePlan:
    """The 2x2 sum-pool form of a folded ``pool + conv`` (or ``pool + flatten + dense``), if the
    integer weights repeat exactly in 2x2 blocks and the map has even height and width;
    otherwise ``syn`` unchanged."""
    if syn.delays is not None or syn.recurrent or syn.kind == "identity" or len(src_shape) != 3:
        return syn
    _, H, W = src_shape
    if H % 2 or W % 2:
        return syn
    w = syn.weight
    if syn.kind == "conv":
        kh, kw = w.shape[2:]
        if (kh % 2 or kw % 2 or syn.stride[0] % 2 or syn.stride[1] % 2 or syn.padding[0] % 2
                or syn.padding[1] % 2 or syn.dilation != (1, 1)):
            return syn
        small = w[:, :, ::2, ::2]
        if not np.array_equal(small.repeat(2, axis=2).repeat(2, axis=3), w):
            return syn
        return SynapsePlan(syn.source, "conv", np.ascontiguousarray(small), (syn.stride[0] // 2, syn.stride[1] // 2),
                           (syn.padding[0] // 2, syn.padding[1] // 2), (1, 1), syn.groups, False, 2)
    if not syn.flatten:
        return syn
    C = src_shape[0]
    full = w.reshape(w.shape[0], C, H, W)
    small = full[:, :, ::2, ::2]
    if not np.array_equal(small.repeat(2, axis=2).repeat(2, axis=3), full):
        return syn
    return SynapsePlan(syn.source, "dense", np.ascontiguousarray(small.reshape(w.shape[0], -1)),
                       flatten=True, pool=2)


def state_dtype_for(layer: LayerPlan) -> tuple[torch.dtype, bool]:
    """(state dtype, whether ``u`` can wrap) for ``layer`` whose synapse bounds are set.

    float32 is exact for the state when ``iDecay = 4096`` (``u = a << 6``, no wrap), ``a`` itself
    is exact in float32 and ``4096 - vDecay`` is a power of two (IF: ``vDecay = 0``; leak 0.5:
    ``vDecay = 2048``; relays: ``vDecay = 4095``). Then the decay ``trunc(v * (4096 - vDecay) /
    4096)`` multiplies by a power of two (exact) and truncates; ``decayed v + u`` stays below
    ``2**24`` in magnitude (``|v| <= 2**23 - 1`` after saturation, ``|u| <= 2**23``) and is
    computed exactly; adding ``bias << 6`` can only round a value that is already beyond the
    saturation limit, and rounding is monotone, so the saturated result is exact too. Soft
    resets subtract ``theta << 6`` from a ``v`` above the threshold, also exact. In float64 the
    same decay is exact for every ``vDecay`` (the product has at most 36 significant bits).
    """
    total = sum(s.bound for s in layer.synapses)
    a_lo = sum(s.a_range[0] for s in layer.synapses if not s.recurrent)
    a_hi = sum(s.a_range[1] for s in layer.synapses if not s.recurrent)
    if any(s.recurrent for s in layer.synapses):
        a_lo, a_hi = a_lo - sum(s.bound for s in layer.synapses if s.recurrent), a_hi + sum(s.bound for s in layer.synapses if s.recurrent)
    # u = a << 6 needs no wrap while it stays in (-2**23, 2**23]
    wrap = layer.i_decay != DECAY_UNITY or a_hi * 2**SHIFT > U_WRAP or a_lo * 2**SHIFT <= -U_WRAP
    keep = DECAY_UNITY - layer.v_decay
    f32 = (layer.i_decay == DECAY_UNITY and keep > 0 and keep & (keep - 1) == 0 and not wrap
           and all(s.dtype == torch.float32 for s in layer.synapses) and total <= F32_EXACT
           and abs(int(layer.vth_mant)) << SHIFT < F32_EXACT
           and float(np.abs(layer.bias).max(initial=0)) * 2**SHIFT < F32_EXACT)
    return (torch.float32 if f32 else torch.float64), bool(wrap)
