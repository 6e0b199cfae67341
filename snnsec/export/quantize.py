"""Map a float :class:`~snnsec.export.graph.SpikingGraph` onto Loihi 2's fixed-point neuron.

Loihi 2's CUBA neuron, as lava-nc's bit-accurate models compute it (``lava/proc/lif/models.py``),
per population and step, with ``a`` the integer synaptic input of this step:

.. code-block:: text

    u = trunc(u * (4096 - iDecay) / 4096) + (a << 6)        24-bit, wraps on overflow
    v = trunc(v * (4096 - vDecay) / 4096) + u + (bias << 6)  24-bit, saturates
    spike if v > vThMant << 6, then v = 0

The paper's neuron ``u = lambda*u + I; spike if u >= theta`` maps onto it as follows. Each
population gets a scale ``s`` (integer units per unit of float current), so ``a = W_int @ msg``
with ``W_int = s * W / s_in`` (``s_in``: the value of one input message: 1 for spikes,
``input_scale`` for graded direct input) and ``bias = round(s * b)``:

- ``iDecay = 4096``: no synaptic memory, ``u`` is this step's input.
- ``vDecay = round((1 - lambda) * 4096)``: IF (lambda = 1) is ``vDecay = 0``.
- ``s = K / theta`` with an integer ``K``, and ``vThMant = K - 1``: the model fires on
  ``u >= theta``, i.e. ``v >= K << 6``; Loihi fires on ``v > vThMant << 6``. While ``v`` stays a
  multiple of 64 (always for IF, since every addend is ``<< 6``) the two agree exactly. A leak
  truncates ``v`` below the 64-grid, so leaky neurons agree only up to that truncation.
- The reset is the neuron model's integer reset (:meth:`~snnsec.neurons.NeuronModel.fixed_reset`
  with theta = ``K << 6``): a hard reset zeroes ``v``, a soft reset subtracts ``K << 6``.
- Weights lie on Loihi's 8-bit grid for mixed-sign synapses: an 8-bit signed mantissa times 2,
  i.e. even integers in [-256, 254] (lava-nc truncates the LSB of mixed-sign weights).

``s`` is the largest value that keeps the weights on the grid, ``|a| < 2**17`` for every input
in the domain (``u = a << 6`` would wrap past 24 bits), the bias in 13 bits and ``vThMant`` in
17 bits. If the weights already lie exactly on a grid that fits, that grid is used (error 0).
The readout population never spikes: ``vThMant = 2**17 - 1`` and its scale keeps the T-step sum
of ``a + bias`` below that threshold, so its ``v`` at the end of a sample is ``64 * s * sum(logits)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from snnsec.errors import InputError
from snnsec.export.graph import INPUT, Population, SpikingGraph, Synapse
from snnsec.neurons import NeuronModel
from snnsec.utils.intervals import BLOCK, interval_sums

SHIFT = 6                      # Loihi MSB-aligns a, vth and bias by 6 bits inside 24-bit u and v
DECAY_UNITY = 4096             # 12-bit decays
WEIGHT_MANT = (-128, 127)      # 8-bit signed weight mantissa; mixed-sign weights are 2 * mantissa
A_LIMIT = 2**17 - 1            # |a| beyond this wraps u = a << 6 (24-bit signed)
VTH_MANT_MAX = 2**17 - 1       # 17-bit threshold mantissa
BIAS_MANT_MAX = 2**12 - 1      # 13-bit signed bias mantissa
V_LIMIT = 2**23 - 1            # v saturates at +-(2**23 - 1)
DEFAULT_INPUT_SCALE = 255.0    # 8-bit images enter exactly: x = k/255 -> message k


@dataclass
class FixedPopulation:
    """A population in Loihi integers. Synapse weights are int64 arrays (torch layout).

    Attributes:
        neuron: the neuron model, which owns the integer reset; ``None`` for the readout and
            relays (Loihi's CUBA reset to 0).
        theta_mant: the float threshold theta in integer units (``K``); ``v`` units are ``<< 6``.
    """

    name: str
    shape: tuple[int, ...]
    synapses: list[Synapse]
    bias: np.ndarray
    vth_mant: int
    v_decay: int
    i_decay: int = DECAY_UNITY
    neuron: NeuronModel | None = None
    theta_mant: int = 0
    spiking: bool = True
    relay: bool = False
    depth: int = 1
    scale: float = 1.0

    def fixed_reset(self, v: Any, z: Any) -> Any:
        """``v`` after the spikes ``z``, in Loihi integers (the neuron model's reset)."""
        if self.neuron is None:
            return v * (1 - z)
        return self.neuron.fixed_reset(v, z, self.theta_mant << SHIFT)


@dataclass
class LayerReport:
    """Quantisation of one population (errors in the float model's units)."""

    layer: str
    scale: float
    limited_by: str
    vth_mant: int
    v_decay: int
    weight_rel_error: float
    weight_max_abs_error: float
    bias_max_abs_error: float
    clipped_weights: int
    acc_bound: int


@dataclass
class FixedGraph:
    """A graph in Loihi integers, plus how to turn inputs into messages."""

    graph: SpikingGraph
    input_scale: float
    populations: list[FixedPopulation] = field(default_factory=list)
    report: list[LayerReport] = field(default_factory=list)

    @property
    def message_bits(self) -> int:
        """Bits of a graded input message (0: unary spikes)."""
        if self.graph.input_spiking:
            return 0
        lo, hi = input_message_range(self.graph, self.input_scale)
        peak = int(max(np.abs(lo).max(), np.abs(hi).max()))
        return max(1, peak.bit_length()) + int(lo.min() < 0)

    def messages(self, seq: np.ndarray) -> np.ndarray:
        """Input steps ``[..., C, H, W]`` in [0, 1] -> integer messages (spikes stay 0/1)."""
        return quantize_input(self.graph, seq, self.input_scale)

    def report_dicts(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.report]


def input_message_range(graph: SpikingGraph, input_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (lo, hi) message values for inputs in [0, 1]."""
    if graph.input_spiking:
        c = graph.input_shape[0]
        return np.zeros(c), np.ones(c)
    off = graph.input_offset
    return np.round((0.0 - off) * input_scale), np.round((1.0 - off) * input_scale)


def quantize_input(graph: SpikingGraph, seq: np.ndarray, input_scale: float) -> np.ndarray:
    return quantize_messages(seq, graph.input_spiking, graph.input_offset, input_scale, len(graph.input_shape), graph.encoder)


def quantize_messages(seq: np.ndarray, spiking: bool, offset: np.ndarray, input_scale: float,
                      step_ndim: int, encoder: str = "the") -> np.ndarray:
    """Input steps ``[..., C, (H, W)]`` (``step_ndim`` trailing axes) in [0, 1] -> integer
    messages: spikes stay 0/1, graded
    input becomes ``round((x - offset) * input_scale)``. Refuses NaN and values outside [0, 1]
    (or non-binary spikes) in one line instead of casting them to garbage integers."""
    seq = np.asarray(seq, dtype=np.float64)
    if seq.size and not np.isfinite(seq).all():
        raise InputError(f"Lava inputs must be finite numbers in [0, 1]; found {seq[~np.isfinite(seq)].flat[0]}")
    if seq.size and (seq.min() < 0.0 or seq.max() > 1.0):
        bad = seq.min() if seq.min() < 0.0 else seq.max()
        raise InputError(f"Lava inputs must lie in [0, 1] (the model's input domain); found {bad:.6g}")
    if spiking:
        if np.any((seq != 0.0) & (seq != 1.0)):
            bad = seq[(seq != 0.0) & (seq != 1.0)].flat[0]
            raise InputError(f"{encoder} input enters Lava as unary spikes and must be 0 or 1; found {bad:.6g}")
        return seq.astype(np.int64)
    off = np.asarray(offset, dtype=np.float64).reshape((-1,) + (1,) * (step_ndim - 1))
    return np.round((seq - off) * input_scale).astype(np.int64)


def channel_bounds(syn: Synapse, weight: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                   src_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Largest and smallest input current per output channel over inputs in [lo, hi] per channel.

    Zero padding is covered because lo <= 0 <= hi.
    """
    if syn.kind == "conv":
        out, per_group = weight.shape[:2]
        groups = syn.groups
        idx = (np.arange(out)[:, None] // (out // groups)) * per_group + np.arange(per_group)[None, :]
        l, h = lo[idx][..., None, None], hi[idx][..., None, None]
        axes: tuple[int, ...] = (1, 2, 3)
    else:
        if syn.flatten:
            per = int(np.prod(src_shape[1:]))
            l, h = np.repeat(lo, per)[None, :], np.repeat(hi, per)[None, :]
        else:
            l = lo[None, :] if len(lo) == weight.shape[1] else np.full((1, weight.shape[1]), lo.min())
            h = hi[None, :] if len(hi) == weight.shape[1] else np.full((1, weight.shape[1]), hi.max())
        axes = (1,)
    return interval_sums(weight, l, h, axes)


def quantize(graph: SpikingGraph, input_scale: float = DEFAULT_INPUT_SCALE) -> FixedGraph:
    """Quantise every population of ``graph`` (see the module docstring for the mapping)."""
    if not input_scale > 0:
        raise InputError(f"input_scale must be positive, got {input_scale}")
    fixed = FixedGraph(graph, 1.0 if graph.input_spiking else float(input_scale))
    for pop in graph.populations:
        fp, rep = _quantize_population(graph, fixed, pop)
        fixed.populations.append(fp)
        if rep is not None:
            fixed.report.append(rep)
    return fixed


def _source_info(graph: SpikingGraph, fixed: FixedGraph, syn: Synapse):  # type: ignore[no-untyped-def]
    if syn.source == INPUT:
        lo, hi = input_message_range(graph, fixed.input_scale)
        return fixed.input_scale, lo, hi, graph.input_shape
    shape = graph.populations[syn.source].shape
    return 1.0, np.zeros(shape[0]), np.ones(shape[0]), shape


def _quantize_population(graph: SpikingGraph, fixed: FixedGraph, pop: Population):  # type: ignore[no-untyped-def]
    if pop.relay:  # fires iff its input spiked: weight 2 (one grid step), threshold just below it
        syns = [Synapse(s.source, s.kind, np.rint(s.weight * 2).astype(np.int64), s.stride, s.padding,
                        s.groups, s.flatten) for s in pop.synapses]
        return FixedPopulation(pop.name, pop.shape, syns, np.zeros(pop.shape[0], np.int64), vth_mant=1,
                               v_decay=DECAY_UNITY - 1, relay=True, depth=pop.depth, scale=2.0), None
    infos = [_source_info(graph, fixed, s) for s in pop.synapses]
    # float weight per message unit; read only below, so a synapse from spikes (unit 1.0) keeps its own
    # array: w / 1.0 is w, and a paper-size classifier's copy is 268 MB of fresh pages
    units = [s.weight if info[0] == 1.0 else s.weight / info[0] for s, info in zip(pop.synapses, infos)]
    bounds = [channel_bounds(s, w, i[1], i[2], i[3]) for s, w, i in zip(pop.synapses, units, infos)]
    pos_f = sum(b[0] for b in bounds)
    neg_f = sum(b[1] for b in bounds)
    acc_f = float(max(np.max(pos_f), -np.min(neg_f), 1e-300))
    w_pos = max(float(max(w.max() for w in units)), 0.0)
    w_neg = max(float(-min(w.min() for w in units)), 0.0)
    b_max = float(np.abs(pop.bias).max()) if pop.bias.size else 0.0
    limits = {
        "weight grid": min(254.0 / w_pos if w_pos > 0 else math.inf, 256.0 / w_neg if w_neg > 0 else math.inf),
        "bias bits": BIAS_MANT_MAX / b_max if b_max > 0 else math.inf,
    }
    spiking = pop.neuron is not None
    if spiking:
        theta = pop.neuron.theta  # type: ignore[union-attr]
        limits["accumulator"] = A_LIMIT / acc_f
        limits["threshold bits"] = (VTH_MANT_MAX + 1) / theta
    else:
        theta = 1.0
        limits["readout range"] = (VTH_MANT_MAX - 1) / (graph.T * (acc_f + b_max))
    limited_by = min(limits, key=lambda k: limits[k])
    s_max = limits[limited_by]
    if not math.isfinite(s_max):
        raise InputError(f"{pop.name}: all weights and biases are zero; nothing to map")
    exact = _exact_grid_scale(units, pop.bias, s_max, theta if spiking else None)
    if exact is not None:
        s_max, limited_by = exact, "exact grid"
    K = math.floor(theta * s_max + 1e-9) if spiking else None
    while True:
        if spiking:
            if K is None or K < 2:
                raise InputError(f"{pop.name}: weights span too wide a range for Loihi's 8-bit grid "
                                 f"(threshold would be {K} units; limited by {limited_by})")
            s = K / theta
        else:
            s = s_max
        ints, clipped = _weight_grid(units, s)
        bias = np.clip(np.rint(pop.bias * s), -BIAS_MANT_MAX, BIAS_MANT_MAX).astype(np.int64)
        syns = [Synapse(p.source, p.kind, w, p.stride, p.padding, p.groups, p.flatten) for p, w in zip(pop.synapses, ints)]
        acc = 0
        for syn, w, info in zip(syns, ints, infos):  # int weights: each block is cast, exactly, as it is used
            hi, lo = channel_bounds(syn, w, info[1], info[2], info[3])
            acc = max(acc, int(np.max(hi)), int(-np.min(lo)))
        ok = acc <= A_LIMIT if spiking else graph.T * (acc + int(np.abs(bias).max(initial=0))) < VTH_MANT_MAX
        if ok:
            break
        if spiking:
            K -= 1  # rounding pushed the bound over the limit: one unit coarser
        else:
            s_max *= 0.99
    # the weight error and the weights, one after the other in one buffer (a paper-size layer's is
    # hundreds of MB): max |error| (+ 0.0: never -0.0, as np.abs(...).max()) and both sums of squares
    factors = [info[0] for info in infos]
    buf = _concatenated(units, lambda i, out: np.subtract(np.divide(ints[i], s, out=out), units[i], out=out), factors)
    err_max = max(float(buf.max()), -float(buf.min())) + 0.0 if buf.size else 0.0
    err_ss = _sum_of_squares(buf)
    ref_ss = _sum_of_squares(_concatenated(units, lambda i, out: np.copyto(out, units[i]), factors, out=buf))
    del buf
    if spiking:
        neuron = pop.neuron
        assert neuron is not None
        try:
            v_decay = neuron.v_decay()
        except InputError as exc:
            raise InputError(f"{pop.name}: {exc}") from None
        vth, theta_mant = neuron.vth_mant(int(K)), int(K)
    else:
        neuron, v_decay, vth, theta_mant = None, 0, VTH_MANT_MAX, 0
    fp = FixedPopulation(pop.name, pop.shape, syns, bias, vth, v_decay, DECAY_UNITY, neuron, theta_mant,
                         spiking, False, pop.depth, float(s))
    rep = LayerReport(
        pop.name, float(s), limited_by, vth, v_decay,
        float(math.sqrt(err_ss) / max(math.sqrt(ref_ss), 1e-300)),
        err_max,
        float(np.abs(bias / s - pop.bias).max()) if pop.bias.size else 0.0,
        clipped, int(acc),
    )
    return fp, rep


def _weight_grid(units: list[np.ndarray], s: float) -> tuple[list[np.ndarray], int]:
    """Each float weight array on Loihi's even 8-bit grid at scale ``s``:
    ``2 * clip(rint(w * s / 2), *WEIGHT_MANT)`` as int64, and how many weights the clip cut.

    Block by block through one small scratch array, straight into the int64 result: a paper-size
    layer (a 4096x8192 classifier is 268 MB in float64) would otherwise make six fresh copies, each
    of them paged in anew (above glibc's 32 MiB mmap threshold every temporary is new memory)."""
    ints, clipped = [], 0
    for w in units:
        flat = w.reshape(-1)
        wi = np.empty(flat.size, dtype=np.int64)
        scratch = np.empty(min(BLOCK, flat.size), dtype=np.float64)
        for a in range(0, flat.size, BLOCK):
            q = scratch[:min(BLOCK, flat.size - a)]
            np.multiply(flat[a:a + len(q)], s, out=q)
            q /= 2.0
            clipped += int(np.count_nonzero(q > 128.0)) + int(np.count_nonzero(q < -128.0))
            np.rint(q, out=q)
            np.clip(q, *WEIGHT_MANT, out=q)
            np.multiply(q, 2.0, out=wi[a:a + len(q)], casting="unsafe")  # an even integer, exactly
        ints.append(wi.reshape(w.shape))
    return ints, clipped


def _concatenated(units: list[np.ndarray], fill, factors: list[float],  # type: ignore[no-untyped-def]
                  out: np.ndarray | None = None) -> np.ndarray:
    """One flat float64 array (``out``, or a new one): ``fill(i, view)`` writes entry ``i``'s values
    into its own slice (shaped like ``units[i]``), which is then multiplied by ``factors[i]``; what
    ``np.concatenate([(...).ravel() * f ...])`` gives, without a temporary per step."""
    if out is None:
        out = np.empty(sum(w.size for w in units), dtype=np.float64)
    at = 0
    for i, (w, f) in enumerate(zip(units, factors)):
        view = out[at:at + w.size].reshape(w.shape)
        fill(i, view)
        view *= f
        at += w.size
    return out


def _sum_of_squares(v: np.ndarray) -> float:
    """``np.sum(v * v)``, bit for bit (the same pairwise sum over the same array), squaring ``v``
    in place. np.sum, not np.linalg.norm: BLAS splits the sum by its thread count, so the
    report's bytes would depend on OMP_NUM_THREADS (torchrun ranks run one thread each)."""
    np.multiply(v, v, out=v)
    return float(np.sum(v))


def _exact_grid_scale(units: list[np.ndarray], bias: np.ndarray, s_max: float, theta: float | None) -> float | None:
    """The largest scale <= ``s_max`` at which every weight is an even integer and every bias an
    integer (with an integer threshold), if the weights were already on such a grid."""
    peak = max(max(float(w.max()), -float(w.min())) for w in units)  # max |w| without a copy of |w|
    if peak == 0.0:
        return None
    sample = np.concatenate([w.ravel()[:4096] for w in units])
    for m in range(WEIGHT_MANT[1], 0, -1):  # the largest |mantissa| is m (or 128 for a negative peak)
        for mant in (m, m + 1) if m == WEIGHT_MANT[1] else (m,):
            s = 2.0 * mant / peak
            if s > s_max * (1 + 1e-12):
                continue
            if theta is not None and abs(theta * s - round(theta * s)) > 1e-6:
                continue
            if not _on_grid(sample * s / 2.0):
                continue
            if all(_on_grid(w * s / 2.0) for w in units) and _on_grid(bias * s):
                return s
    return None


def _on_grid(x: np.ndarray) -> bool:
    return bool(np.all(np.abs(x - np.rint(x)) < 1e-6))
