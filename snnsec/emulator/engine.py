"""The batched, bit-exact emulator of Loihi 2's CUBA network (lava-nc's fixed-point models).

It computes what :func:`snnsec.export.reference.simulate_fixed` computes, in *logical* time (each
population integrates input step ``t`` at step ``t``; Lava adds one step per synapse, which
:mod:`snnsec.emulator.netx` puts back for NetX users). It is fast because it does, per time chunk,
what the float forward of the model does:

- Stateless synapses run once on the time-folded ``[t * B, ...]`` spikes of their source (one
  big convolution instead of ``T`` small ones), in float32 where :mod:`snnsec.emulator.plan` proves
  the integer sums exact, else float64.
- Pooled convolutions run as a 2x2 sum pool plus the small kernel (verified per layer).
- Direct (graded) input that repeats over time goes through the first synapse once per chunk.
- Only the neuron update loops over time, elementwise, in place.

Samples run in batches of ``batch_size`` and time in chunks, so memory stays bounded for any N
and T. Every population starts each sample from ``u = v = 0``, which is what lava-sim's
``reset_interval`` streaming gives.

The 24-bit ``u`` wrap, ``v`` saturation, truncating decays, the strict ``v > vThMant << 6``
spike test and the per-synapse 24-bit wrap of conv outputs follow lava-nc's
``PyLifModelBitAcc`` / ``PyConvModelFixed``; the reset after a spike is the neuron model's
(``FixedPopulation.fixed_reset``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from snnsec.emulator.plan import (
    DECAY_UNITY,
    INPUT,
    SHIFT,
    U_WRAP,
    V_LIMIT,
    LayerPlan,
    SynapsePlan,
    choose_dtype,
    factorise_pool,
    partial_sum_bound,
    signed_range,
    state_dtype_for,
)
from snnsec.errors import InputError

DEFAULT_BATCH = 32
MEMORY_BUDGET = 512 * 2**20  # bytes of activations per time chunk


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``auto``/``None``, ``cpu``, ``cuda`` or ``cuda:N``, by snnsec's one rule
    (:func:`snnsec.utils.device.resolve_device`)."""
    from snnsec.utils.device import resolve_device as resolve

    return resolve(device)


@dataclass
class EmulatorResult:
    """What a run returns (sample-major, like lava-sim's stream).

    Attributes:
        readout: ``[N, classes]`` the last layer's ``v`` after the last step of each sample.
        spikes: per layer ``[N, T, *shape]`` int spikes (None for non-spiking layers), if recorded.
        readout_steps: ``[N, T, classes]`` the last layer's ``v`` after every step, if recorded.
        u, v: per layer ``[N, T, *shape]`` states after every step, if recorded.
        seconds: wall time of the run.
    """

    readout: np.ndarray
    spikes: list[np.ndarray | None] | None = None
    readout_steps: np.ndarray | None = None
    u: list[np.ndarray] | None = None
    v: list[np.ndarray] | None = None
    seconds: float = 0.0


@contextlib.contextmanager
def exact_float_math(device: torch.device) -> Iterator[None]:
    """Full-precision float32 for the duration: no TF32/bf16 shortcuts, no NNPACK, and on CUDA
    no cuDNN (Winograd/FFT convolutions do not add integers exactly; oneDNN's direct kernels on
    the CPU and the native im2col + GEMM kernels on CUDA do, under the plan's bound)."""
    precision = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    # oneDNN may be told to run float32 convolutions and matmuls in bf16/tf32: force IEEE float32
    onednn = [(mod, mod.fp32_precision) for mod in (getattr(torch.backends.mkldnn, "conv", None),
                                                     getattr(torch.backends.mkldnn, "matmul", None))
              if mod is not None and hasattr(mod, "fp32_precision")]
    for mod, _ in onednn:
        mod.fp32_precision = "ieee"
    # NNPACK (chosen on builds without oneDNN) convolves by Winograd/FFT: not exact for integers
    nnpack = torch.backends.nnpack.flags(enabled=False)
    nnpack.__enter__()
    cuda_state = None
    if device.type == "cuda":
        cuda_state = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
                      torch.backends.cudnn.enabled)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.enabled = False
    try:
        yield
    finally:
        nnpack.__exit__(None, None, None)
        for mod, value in onednn:
            mod.fp32_precision = value
        torch.set_float32_matmul_precision(precision)
        if cuda_state is not None:
            (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
             torch.backends.cudnn.enabled) = cuda_state


def hard_reset(v: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Loihi's CUBA reset: ``v = 0`` where a spike fired."""
    return v * (1 - z)


class _Layer:
    """A :class:`LayerPlan` with its weights on the device."""

    def __init__(self, plan: LayerPlan, device: torch.device) -> None:
        self.plan = plan
        self.weights = []
        for s in plan.synapses:
            if s.kind == "identity":
                self.weights.append([(0, None)])
            elif s.delays is None:
                self.weights.append([(0, torch.as_tensor(s.weight, dtype=s.dtype, device=device))])
            else:  # one weight matrix per distinct delay (Lava's DelayDense)
                self.weights.append([(int(k), torch.as_tensor(np.where(s.delays == k, s.weight, 0), dtype=s.dtype, device=device))
                                     for k in np.unique(s.delays)])
        dt = plan.state_dtype
        view = (-1,) + (1,) * (len(plan.shape) - 1)
        self.bias64 = torch.as_tensor(np.asarray(plan.bias, dtype=np.float64) * 2**SHIFT, dtype=dt,
                                      device=device).reshape(view)
        self.has_bias = bool(np.any(plan.bias))
        self.theta = float(int(plan.vth_mant) << SHIFT)
        self.reset = plan.reset or hard_reset
        # u = a << 6 exactly: v = trunc(v * keep) + ((a + bias) << 6) in exact steps (see plan)
        self.fast = plan.i_decay == DECAY_UNITY and not plan.wrap_u
        self.keep = (DECAY_UNITY - plan.v_decay) / DECAY_UNITY
        first = plan.synapses[0] if plan.synapses else None
        self.can_fuse_bias = bool(self.fast and self.has_bias and not plan.extra.get("input_as_bias")
                                  and first is not None and not first.recurrent and first.delays is None
                                  and not first.weight_exp and not first.wrap_a and not first.lag
                                  and first.dtype == dt)
        self.bias_a = (torch.as_tensor(np.asarray(plan.bias, dtype=np.float64), dtype=first.dtype, device=device)
                       if self.can_fuse_bias and first is not None else None)


class Emulator:
    """Runs a list of :class:`LayerPlan` (topologically ordered; the last is the readout).

    Args:
        layers: the plans (see :func:`snnsec.emulator.compile.plan_fixed_graph`).
        input_shape: one input step, torch layout.
        device: ``cpu``, ``cuda`` or ``None``/``auto`` (cuda when available).
        batch_size: samples per batch.
        time_chunk: steps per chunk (default: as many as fit :data:`MEMORY_BUDGET`).
    """

    def __init__(self, layers: list[LayerPlan], input_shape: tuple[int, ...], device: str | None = None,
                 batch_size: int = DEFAULT_BATCH, time_chunk: int | None = None) -> None:
        if batch_size < 1:
            raise InputError(f"batch size must be a positive number of samples, got {batch_size}")
        if time_chunk is not None and time_chunk < 1:
            raise InputError(f"time chunk must be a positive number of steps, got {time_chunk}")
        self.plans = layers
        self.input_shape = tuple(input_shape)
        self.device = resolve_device(device)
        self.batch_size = int(batch_size)
        self.time_chunk = time_chunk
        self.layers = [_Layer(p, self.device) for p in layers]
        # delayed and recurrent synapses need the whole history of a sample in one chunk
        self.whole_time = any(s.delays is not None or s.recurrent or s.lag for p in layers for s in p.synapses)

    def describe(self) -> list[dict[str, Any]]:
        """How each layer runs: state dtype, synapse dtypes, bounds and pool factorisation."""
        return [p.describe() for p in self.plans]

    def _chunk_steps(self, T: int, B: int) -> int:
        if self.whole_time:
            return T
        if self.time_chunk is not None:
            return min(T, self.time_chunk)
        per_step = sum(int(np.prod(p.shape)) for p in self.plans) * B * 8 * 2
        return max(1, min(T, MEMORY_BUDGET // max(per_step, 1)))

    @torch.no_grad()
    def run(self, messages: np.ndarray | torch.Tensor, *, record_spikes: bool = False,
            record_readout: bool = False, record_state: bool = False,
            on_progress: Callable[[int], None] | None = None,
            transform: Callable[[Any], Any] | None = None) -> EmulatorResult:
        """Run integer input messages ``[N, T, *input_shape]`` (spikes 0/1 or graded integers).

        ``transform`` (e.g. ``FixedGraph.messages``) turns each batch of ``messages`` into the
        integer messages just before it runs, so only one batch of them is ever in memory.
        ``on_progress`` is called with the number of samples done after each batch.
        """
        import time

        start = time.perf_counter()
        msgs = messages
        if msgs.ndim != 2 + len(self.input_shape) or tuple(msgs.shape[2:]) != self.input_shape:
            raise InputError(f"expected input messages [N, T, {', '.join(map(str, self.input_shape))}], "
                             f"got {list(msgs.shape)}")
        N, T = int(msgs.shape[0]), int(msgs.shape[1])
        if N == 0 or T == 0:
            raise InputError(f"nothing to run: {N} samples x {T} steps")
        spikes: list[list[np.ndarray]] | None = [[] for _ in self.layers] if record_spikes else None
        readout_steps: list[np.ndarray] = []
        us: list[list[np.ndarray]] = [[] for _ in self.layers]
        vs: list[list[np.ndarray]] = [[] for _ in self.layers]
        finals = []
        with exact_float_math(self.device):
            for b0 in range(0, N, self.batch_size):
                part = msgs[b0:b0 + self.batch_size]
                part = transform(part) if transform is not None else part
                x = torch.as_tensor(part).to(self.device).transpose(0, 1)  # [T, B, ...]
                out = self._run_batch(x, record_spikes, record_readout, record_state)
                finals.append(out["final"])
                if spikes is not None:
                    for i, s in enumerate(out["spikes"]):
                        spikes[i].append(s)
                if record_readout:
                    readout_steps.append(out["readout"])
                if record_state:
                    for i in range(len(self.layers)):
                        us[i].append(out["u"][i])
                        vs[i].append(out["v"][i])
                if on_progress is not None:
                    on_progress(min(N, b0 + self.batch_size))
        cat = (lambda parts: np.concatenate(parts, axis=0))  # noqa: E731
        return EmulatorResult(
            readout=cat(finals),
            spikes=[cat(s) if self.plans[i].spiking else None for i, s in enumerate(spikes)] if spikes is not None else None,
            readout_steps=cat(readout_steps) if record_readout else None,
            u=[cat(u) for u in us] if record_state else None,
            v=[cat(v) for v in vs] if record_state else None,
            seconds=time.perf_counter() - start,
        )

    def _run_batch(self, x: torch.Tensor, record_spikes: bool, record_readout: bool,
                   record_state: bool) -> dict[str, Any]:
        T, B = x.shape[:2]
        tc = self._chunk_steps(T, B)
        dev = self.device

        def zeros(p: LayerPlan, used: bool) -> torch.Tensor:
            return torch.zeros((B, *p.shape) if used else (), dtype=p.state_dtype, device=dev)

        # u is state only where it decays or is recorded; elsewhere u = a << 6 is never stored
        state = [(zeros(p, record_state or not layer.fast or bool(p.extra.get("input_as_bias"))
                        or (record_readout and i == len(self.plans) - 1)), zeros(p, True))
                 for i, (p, layer) in enumerate(zip(self.plans, self.layers))]
        rec_spikes: list[list[torch.Tensor]] = [[] for _ in self.layers]
        rec_u: list[list[torch.Tensor]] = [[] for _ in self.layers]
        rec_v: list[list[torch.Tensor]] = [[] for _ in self.layers]
        rec_readout: list[torch.Tensor] = []
        for t0 in range(0, T, tc):
            xs = x[t0:t0 + tc]
            steps = xs.shape[0]
            constant = steps > 1 and bool(torch.equal(xs[:1].expand_as(xs), xs))
            outs: dict[int, torch.Tensor] = {}
            for i, layer in enumerate(self.layers):
                want_uv = record_state or (record_readout and i == len(self.layers) - 1)
                fuse = layer.can_fuse_bias and not want_uv
                a = self._synaptic_input(layer, i, xs, outs, constant, steps, B, fuse)
                z, u_seq, v_seq = self._neuron_steps(layer, i, a, state, steps, B, want_uv, fuse, t0)
                outs[i] = z
                if record_spikes and layer.plan.spiking:
                    rec_spikes[i].append(z.to(torch.int8).cpu())
                if record_state:
                    rec_u[i].append(u_seq.cpu())
                    rec_v[i].append(v_seq.cpu())
                if record_readout and i == len(self.layers) - 1:
                    rec_readout.append(v_seq.cpu())
        final = state[-1][1].detach().to(torch.float64).cpu().numpy()
        result: dict[str, Any] = {"final": final}
        sm = (lambda parts: torch.cat(parts).transpose(0, 1).numpy())  # noqa: E731  [T,B,...] -> [B,T,...]
        if record_spikes:
            result["spikes"] = [sm(s) if s else None for s in rec_spikes]
        if record_state:
            result["u"] = [sm(u).astype(np.int64) for u in rec_u]
            result["v"] = [sm(v).astype(np.int64) for v in rec_v]
        if record_readout:
            result["readout"] = sm(rec_readout).astype(np.float64)
        return result

    # -- synapses ------------------------------------------------------------------------------

    def _synaptic_input(self, layer: _Layer, index: int, xs: torch.Tensor, outs: dict[int, torch.Tensor],
                        constant: bool, steps: int, B: int, fuse_bias: bool) -> torch.Tensor | None:
        """``a`` for every step of the chunk, ``[steps, B, *shape]`` in the state dtype (with the
        bias mantissa already added when ``fuse_bias``: then ``v += a << 6`` adds both at once)."""
        plan = layer.plan
        dt = plan.state_dtype
        a: torch.Tensor | None = None
        for k, (syn, weights) in enumerate(zip(plan.synapses, layer.weights)):
            if syn.recurrent:
                continue  # added step by step in the neuron loop
            src = (xs[:1] if constant else xs) if syn.source == INPUT else outs[syn.source]
            n = src.shape[0]
            flat = src.reshape(n * B, *src.shape[2:])
            if syn.unary and syn.source == INPUT:
                flat = flat != 0  # lava-nc reads a unary port's payload as a bool
            flat = flat.to(syn.dtype)
            if syn.pool == 2:
                flat = F.avg_pool2d(flat, 2, divisor_override=1)  # 2x2 sum pool, exact
            contrib = None
            for delay, w in weights:
                bias = layer.bias_a if fuse_bias and k == 0 else None
                y = _apply(syn, flat, w, bias).reshape(n, B, *plan.shape)
                if syn.wrap_a:
                    y = _wrap(y, U_WRAP)  # lava-nc's Conv wraps a to 24 bits
                if syn.weight_exp:
                    y = torch.floor(y * 2.0**syn.weight_exp) if syn.weight_exp < 0 else y * 2.0**syn.weight_exp
                shift = delay + syn.lag
                if shift:
                    if n != steps:
                        y, n = y.expand(steps, *y.shape[1:]), steps
                    shifted = torch.zeros_like(y)
                    if shift < n:
                        shifted[shift:] = y[:n - shift]
                    y = shifted
                contrib = y if contrib is None else contrib + y
            assert contrib is not None
            contrib = contrib.to(dt)
            if contrib.shape[0] != steps:
                contrib = contrib.expand(steps, *contrib.shape[1:])
            a = contrib if a is None else a + contrib
        return a

    # -- neurons -------------------------------------------------------------------------------

    def _neuron_steps(self, layer: _Layer, index: int, a: torch.Tensor | None, state: list[Any],
                      steps: int, B: int, want_uv: bool, bias_in_a: bool, t0: int = 0
                      ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Loihi's CUBA update for every step of the chunk; returns spikes (and u, v)."""
        plan = layer.plan
        dt = plan.state_dtype
        u, v = state[index]
        z_seq = torch.empty((steps, B, *plan.shape), dtype=dt, device=self.device)
        u_seq = torch.empty_like(z_seq) if want_uv else None
        v_seq = torch.empty_like(z_seq) if want_uv else None
        rec = [(s, w) for s, w in zip(plan.synapses, layer.weights) if s.recurrent]
        z_prev = torch.zeros((B, *plan.shape), dtype=dt, device=self.device) if rec else None
        zero = torch.zeros((), dtype=dt, device=self.device)
        input_as_bias = bool(plan.extra.get("input_as_bias", False))
        fast = layer.fast and not want_uv and not rec and not input_as_bias
        for t in range(steps):
            if plan.reset_every is not None and (t0 + t + 1) % plan.reset_every[0] == plan.reset_every[1]:
                u, v = torch.zeros_like(u), torch.zeros_like(v)  # lava-nc LIFReset, Lava steps count from 1
            at = a[t] if a is not None else zero
            for syn, weights in rec:
                assert z_prev is not None
                y = _apply(syn, z_prev.reshape(B, -1).to(syn.dtype), weights[0][1])
                if syn.weight_exp:
                    y = torch.floor(y * 2.0**syn.weight_exp) if syn.weight_exp < 0 else y * 2.0**syn.weight_exp
                at = at + y.to(dt).reshape(B, *plan.shape)
            if fast:
                if plan.v_decay:
                    v = v.mul(layer.keep).trunc_()  # lava-nc's truncating decay, exact (see plan)
                v.add_(at, alpha=2**SHIFT)  # v + (a << 6) (+ bias << 6 when fused): exact, see plan
            elif input_as_bias:  # a NetX input neuron: the host drives its bias, its a_in is unused
                u = _trunc_decay(u, plan.i_decay)
                v = (_trunc_decay(v, plan.v_decay) if plan.v_decay else v) + u + at * 2**SHIFT
            else:
                cur = at * 2**SHIFT
                if plan.i_decay != DECAY_UNITY:
                    cur = _trunc_decay(u, plan.i_decay) + cur
                if plan.wrap_u:
                    cur = _wrap_u(cur)
                u = cur
                v = (_trunc_decay(v, plan.v_decay) if plan.v_decay else v) + cur
            if layer.has_bias and not bias_in_a:
                v.add_(layer.bias64)
            v.clamp_(-V_LIMIT, V_LIMIT)
            z = z_seq[t]
            torch.gt(v, layer.theta, out=z)  # Loihi spikes if v > vThMant << 6 (as 0./1.)
            v = layer.reset(v, z)  # the neuron model's integer reset
            if want_uv:
                assert u_seq is not None and v_seq is not None
                u_seq[t] = u
                v_seq[t] = v
            if z_prev is not None:
                z_prev = z
        state[index] = (u, v)
        return z_seq, u_seq, v_seq


def _apply(syn: SynapsePlan, x: torch.Tensor, w: torch.Tensor | None, bias: torch.Tensor | None = None) -> torch.Tensor:
    if syn.kind == "identity":  # a NetX input layer: the payload enters the neuron's a_in as-is
        return x if bias is None else x + bias.reshape(-1, *([1] * (x.dim() - 2)))
    if syn.kind == "conv":
        if syn.groups > 1 and syn.groups == x.shape[1] == w.shape[0] and w.shape[1:] == (1, 1, 1) \
                and syn.stride == (1, 1) and syn.padding == (0, 0):  # a per-channel scale (relays, shortcuts)
            y = x * w.reshape(1, -1, 1, 1)
            return y if bias is None else y + bias.reshape(1, -1, 1, 1)
        return F.conv2d(x, w, bias, stride=syn.stride, padding=syn.padding, dilation=syn.dilation, groups=syn.groups)
    return F.linear(x.reshape(x.shape[0], -1), w, bias)


def _wrap(x: torch.Tensor, half: int) -> torch.Tensor:
    """Two's-complement wrap into ``[-half, half)`` (lava-nc's ``signed_clamp``)."""
    return torch.remainder(x + half, 2 * half) - half


def _wrap_u(cur: torch.Tensor) -> torch.Tensor:
    """lava-nc's 24-bit wrap of ``u`` into ``(-2**23, 2**23]``."""
    cur = torch.where(cur > U_WRAP, cur - 2 * U_WRAP, cur)
    return torch.where(cur <= -U_WRAP, cur + 2 * U_WRAP, cur)


def _trunc_decay(x: torch.Tensor, decay: int) -> torch.Tensor:
    """``sign(x) * ((|x| * (4096 - decay)) >> 12)``, lava-nc's truncating decay (exact in float64)."""
    if decay == 0:
        return x
    if decay == DECAY_UNITY:
        return torch.zeros_like(x)
    return torch.sign(x) * torch.div(torch.abs(x) * (DECAY_UNITY - decay), DECAY_UNITY, rounding_mode="floor")


def finalize_plans(layers: list[LayerPlan], input_shape: tuple[int, ...], input_max: np.ndarray,
                   float32: bool = True, pool: bool = True, input_lo: np.ndarray | None = None) -> list[LayerPlan]:
    """Factorise pools, derive every synapse's partial-sum bound, signed range and dtype, and
    every layer's state dtype. ``input_max``: the largest input message magnitude per input
    channel; ``input_lo``: the smallest message per channel (default ``-input_max``)."""
    shapes = {INPUT: tuple(input_shape)}
    maxima: dict[int, np.ndarray] = {INPUT: np.asarray(input_max, dtype=np.float64).reshape(-1)}
    ranges: dict[int, tuple[np.ndarray, np.ndarray]] = {
        INPUT: (np.asarray(input_lo, dtype=np.float64).reshape(-1) if input_lo is not None else -maxima[INPUT],
                maxima[INPUT])}
    for i, layer in enumerate(layers):
        shapes[i] = tuple(layer.shape)
        maxima[i] = np.full(layer.shape[0], float(layer.out_max))
        ranges[i] = (np.zeros(layer.shape[0]), maxima[i])
        planned = []
        for syn in layer.synapses:
            src = i if syn.recurrent else syn.source
            src_shape = shapes[src]
            s = factorise_pool(syn, src_shape) if pool else syn
            s.delays, s.recurrent, s.weight_exp, s.lag, s.unary = syn.delays, syn.recurrent, syn.weight_exp, syn.lag, syn.unary
            m = maxima[src] * (4.0 if s.pool == 2 else 1.0)
            s.bound = partial_sum_bound(s, m, src_shape)
            lo, hi = ranges[src]
            s.a_range = signed_range(s, lo * (4.0 if s.pool == 2 else 1.0), hi * (4.0 if s.pool == 2 else 1.0), src_shape)
            if s.weight_exp:
                s.bound *= 2.0**max(s.weight_exp, 0)
                s.a_range = (s.a_range[0] * 2.0**s.weight_exp, s.a_range[1] * 2.0**s.weight_exp)
            s.dtype = choose_dtype(s.bound, f"{layer.name} (synapse from {src})", allow_float32=float32)
            s.wrap_a = s.kind == "conv" and (s.a_range[1] >= U_WRAP or s.a_range[0] < -U_WRAP)
            planned.append(s)
        layer.synapses = planned
        layer.state_dtype, layer.wrap_u = state_dtype_for(layer)
        if not float32:
            layer.state_dtype = torch.float64
    if any(math.isinf(s.bound) for p in layers for s in p.synapses):
        raise InputError("unbounded synaptic input")
    return layers
