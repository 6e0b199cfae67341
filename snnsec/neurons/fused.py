r"""One autograd function over all T steps of a layer while training (STBP, paper §3.2).

The per-step neuron (:meth:`NeuronModel.step` in a Python loop) builds about ten autograd nodes
per step: charge, threshold, surrogate, the ``x == 0`` term and the reset. When training VGG-11,
those elementwise nodes cost more than the convolutions. Here the forward pass runs the same
arithmetic under ``no_grad``, so its spikes and potentials are bit-identical to the per-step
neuron's. The backward pass is the per-step neuron's own chain rule, written out. Only the
recurrence stays a Python loop over T (one fused multiply-add per step). The surrogate and
reset-path factors are computed once for all T.

For ``u_t = λ v_{t-1} + I_t``, ``z_t = H(u_t - θ)`` and the triangle surrogate
:math:`S_t = (1/γ²)\max(0, γ - |u_t - θ|)`, the gradient is

.. math::
    \partial L/\partial u_t = S_t \, g_{z,t} + g_{v,t} A_t,\qquad
    g_{v,t-1} = λ\,\partial L/\partial u_t,\qquad \partial L/\partial I_t = \partial L/\partial u_t

Here ``A_t = ∂v_t/∂u_t`` (the reset path is not detached, as in the paper's code):
``(1 - z_t) - u_t S_t`` for the hard reset ``v = u (1 - z)``, and ``1 - θ S_t`` for the soft
reset ``v = u - θ z``. These are the same derivatives autograd takes through the per-step
neuron. Only the order of the float operations differs, so gradients agree to rounding
(``tests/core/test_neuron_fused.py``).

The fused function is used only for the exact classes :class:`HardReset` and :class:`SoftReset`
with the triangle surrogate, in training mode, with autograd on. Anything else keeps the
per-step loop: eval mode (so attacks and evaluation are unchanged), other surrogates, other
neuron types and their subclasses, and overrides.
"""

from __future__ import annotations

from typing import Any

import torch

from snnsec.neurons.functional import NeuronState
from snnsec.neurons.hard_reset import HardReset
from snnsec.neurons.soft_reset import SoftReset

_KINDS: dict[type, str] = {HardReset: "hard", SoftReset: "soft"}


class _FusedLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, u0: torch.Tensor, leak: float, theta: float, gamma: float,  # type: ignore[override]
                kind: str) -> tuple[torch.Tensor, torch.Tensor]:
        T = x.shape[0]
        us = torch.empty_like(x)
        zs = torch.empty_like(x)
        v = u0
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        for t in range(T):
            u = v + x[t] if leak == 1.0 else leak * v + x[t]  # NeuronModel.charge
            d = u - theta
            fired = (d / gamma > 0) | (d == 0)  # spike(): H(d/γ) plus the d == 0 term
            # the resets' own forms, (1-z)*u + z*0 and (1-z)*u + z*(u-θ), take these exact values
            v = torch.where(fired, zero, u) if kind == "hard" else torch.where(fired, d, u)
            us[t] = u
            zs[t] = fired
        ctx.save_for_backward(us, zs)
        ctx.leak, ctx.theta, ctx.gamma, ctx.kind = leak, theta, gamma, kind
        return zs, v

    @staticmethod
    def backward(ctx: Any, g_z: torch.Tensor | None, g_v: torch.Tensor | None):  # type: ignore[override]
        us, zs = ctx.saved_tensors
        leak, theta, gamma = ctx.leak, ctx.theta, ctx.gamma
        d = us - theta
        s = torch.relu(1 - (d / gamma).abs()) / gamma  # the triangle, as spike() takes it: on d/γ, then 1/γ
        if ctx.kind == "hard":
            a = (1 - zs) - us * s
        else:
            a = 1 - theta * s
        b = s * g_z if g_z is not None else torch.zeros_like(us)
        gv = g_v if g_v is not None else torch.zeros_like(us[0])
        gx = torch.empty_like(us)
        for t in range(us.shape[0] - 1, -1, -1):
            du = torch.addcmul(b[t], gv, a[t])
            gx[t] = du
            gv = du if leak == 1.0 else leak * du
        return gx, gv, None, None, None, None


def integrate(layer: Any, x: torch.Tensor, state: NeuronState | None) -> tuple[torch.Tensor, NeuronState] | None:
    """The fused time loop of ``layer`` for ``x`` ``[T, B, ...]``, or ``None`` where it does not
    apply (the caller then runs the per-step loop)."""
    p = layer.p
    kind = _KINDS.get(type(layer.neuron))
    if kind is None or p.surrogate != "triangle" or not layer.training or not torch.is_grad_enabled():
        return None
    u0 = state.u if state is not None else torch.zeros_like(x[0])
    z, v = _FusedLIF.apply(x, u0, float(p.leak), float(p.theta), float(p.gamma), kind)
    return z, NeuronState(v)
