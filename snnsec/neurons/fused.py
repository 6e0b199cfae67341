r"""One autograd function over all T steps of a layer while training (STBP, paper §3.2).

The per-step neuron (:meth:`NeuronModel.step` in a Python loop) builds about ten autograd nodes
per step: charge, threshold, surrogate, the ``x == 0`` term and the reset. When training VGG-11,
those elementwise nodes cost more than the convolutions. Here the forward pass runs the neuron's
own ``charge``, ``fire`` and ``reset`` under ``no_grad``, so its spikes and potentials are
bit-identical to the per-step neuron's. The backward pass is the per-step chain rule written
out, with every factor taken from the neuron itself: :meth:`NeuronModel.partials` gives the
surrogate slope :math:`S_t` of its ``fire`` for all T steps at once, and the partials of ``reset``
(:math:`R^u_t, R^z_t`) and ``charge`` (:math:`C^v_t, C^I_t`), as the neuron's closed forms
(numbers where constant: a soft reset's and Eq. (3)'s) or else by autograd. The surrogate's
closed form (:func:`~snnsec.neurons.functional.spike_slope`) equals autograd's bit for bit; asking
autograd for it instead, the demo's vgg5 training step took 1.3 to 1.5x as long. Only the recurrence
stays a Python loop over T. The closed forms save the backward many elementwise passes over
``[T, B, ...]`` (``benchmarks/scale.py --only train`` times the training step). With :math:`u_t = \mathrm{charge}(v_{t-1}, I_t)`, :math:`z_t = \mathrm{fire}(u_t)`
and :math:`v_t = \mathrm{reset}(u_t, z_t)` (the reset path is not detached, as in the paper's code):

.. math::
    \partial L/\partial u_t = S_t\,g_{z,t} + g_{v,t}\,(R^u_t + R^z_t S_t),\qquad
    g_{v,t-1} = C^v_t\,\partial L/\partial u_t,\qquad \partial L/\partial I_t = C^I_t\,\partial L/\partial u_t

These are the derivatives autograd takes through the per-step neuron, in another order, so the
gradients agree to rounding (``tests/core/test_neuron_fused.py``). Every neuron type whose step
is the base class's charge -> fire -> reset gets it, whatever its reset or surrogate; a type that
overrides ``step`` itself, eval mode (attacks, evaluation), no-grad runs and overrides keep the
per-step loop.
"""

from __future__ import annotations

from typing import Any

import torch

from snnsec.neurons.base import NeuronModel
from snnsec.neurons.functional import NeuronState


class _FusedLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, u0: torch.Tensor, neuron: NeuronModel) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        T = x.shape[0]
        us = torch.empty_like(x)
        zs = torch.empty_like(x)
        vs = torch.empty_like(x)  # v_{t-1}: the potential each step charges from
        v = u0
        for t in range(T):  # NeuronModel.step's own three calls
            vs[t] = v
            u = neuron.charge(v, x[t])
            z = neuron.fire(u)
            v = neuron.reset(u, z)
            us[t] = u
            zs[t] = z
        ctx.save_for_backward(x, us, zs, vs)
        ctx.neuron = neuron
        return zs, v

    @staticmethod
    def backward(ctx: Any, g_z: torch.Tensor | None, g_v: torch.Tensor | None):  # type: ignore[override]
        x, us, zs, vs = ctx.saved_tensors
        neuron: NeuronModel = ctx.neuron
        # Closed forms where the neuron has them (numbers where constant), else autograd's:
        # the surrogate S_t of all T steps at once, then the reset's and the charge's partials.
        (s,) = neuron.partials("fire", us)
        r_u, r_z = neuron.partials("reset", us, zs)
        c_v, c_i = neuron.partials("charge", vs, x)
        # dv_t/du_t through the reset and the spike: R^u + R^z S (addcmul when both are tensors,
        # which rounds as autograd's partials always did: a hard reset trains to the same bits)
        if isinstance(r_u, torch.Tensor) and isinstance(r_z, torch.Tensor):
            a = torch.addcmul(r_u, r_z, s)
        else:
            a = (s * r_z).add_(r_u)
        b = s.mul_(g_z) if g_z is not None else torch.zeros_like(us)
        gv = g_v if g_v is not None else torch.zeros_like(us[0])
        gx = torch.empty_like(us)
        for t in range(us.shape[0] - 1, -1, -1):
            if not isinstance(c_i, torch.Tensor) and c_i == 1.0:  # dL/dI_t is dL/du_t: write it in place
                du = torch.addcmul(b[t], gv, a[t], out=gx[t])
            else:
                du = torch.addcmul(b[t], gv, a[t])
                torch.mul(du, _at(c_i, t), out=gx[t])
            gv = du if not isinstance(c_v, torch.Tensor) and c_v == 1.0 else du * _at(c_v, t)
        return gx, gv, None


def _at(partial: torch.Tensor | float, t: int) -> torch.Tensor | float:
    """Step ``t`` of a partial over ``[T, ...]``; a constant is the same at every step."""
    return partial[t] if isinstance(partial, torch.Tensor) else partial


def integrate(layer: Any, x: torch.Tensor, state: NeuronState | None) -> tuple[torch.Tensor, NeuronState] | None:
    """The fused time loop of ``layer`` for ``x`` ``[T, B, ...]``, or ``None`` where it does not
    apply (the caller then runs the per-step loop)."""
    if not layer.training or not torch.is_grad_enabled() or type(layer.neuron).step is not NeuronModel.step:
        return None
    u0 = state.u if state is not None else torch.zeros_like(x[0])
    z, v = _FusedLIF.apply(x, u0, layer.neuron)
    return z, NeuronState(v)
