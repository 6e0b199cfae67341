r"""BPTR: backpropagation through rates (Ding et al., NeurIPS 2022, "SNN-RAT: Robustness-enhanced
Spiking Neural Network through Regularized Adversarial Training"; public code ``putshua/SNN-RAT``,
its ``RateBp`` function; the HART code calls the same rule ``bptr2``).

Each neuron layer keeps its real forward. Backward, every step's spike is treated as a ReLU of
its input current gated by whether the neuron fired at all during the sequence:

.. math::
    \frac{\partial s(t)}{\partial I(t)} := \mathbb{1}[r > 0], \qquad
    r = \frac1T\sum_t s(t), \qquad \frac{\partial u(t)}{\partial u(t-1)} := 0,

which is the gradient of a ReLU network whose activations are the firing rates. The gate is
constant over time, so the backward is a rate-domain ReLU backward repeated over the T copies of
the linear layers (as in the reference code).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from snnsec.attacks.gradients.base import GradientEstimator, overriding, register_gradient
from snnsec.models.base import SpikingModel
from snnsec.neurons import LIF, NeuronState


class _RateGated(torch.autograd.Function):
    """Forward: the recorded spikes. Backward: ``grad`` where the neuron fired at least once, else 0."""

    @staticmethod
    def forward(ctx, current: torch.Tensor, spikes: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(spikes.amax(0, keepdim=True) > 0)
        return spikes

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        (fired,) = ctx.saved_tensors
        return grad * fired.to(grad.dtype), None


@register_gradient
@dataclass
class BPTR(GradientEstimator):
    """Rate-gated straight-through backward (no options)."""

    name = "bptr"
    summary = "BPTR: ReLU backward on firing rates, gated by r > 0 (SNN-RAT, Ding et al., NeurIPS 2022)"

    @staticmethod
    def _layer(layer: LIF, x: torch.Tensor, state: NeuronState | None) -> tuple[torch.Tensor, NeuronState]:
        with torch.no_grad():
            spikes, state = layer.integrate(x.detach(), state)
        return _RateGated.apply(x, spikes), state

    def logits(self, model: SpikingModel, x: torch.Tensor) -> torch.Tensor:
        # the gate needs the rate of the whole sequence
        with overriding(model, self._layer), model.chunked(None):
            return model(x)
