r"""HART: the hybrid rate-and-temporal gradient (Hao et al., ICLR 2024, "Threaten Spiking Neural
Networks through Combining Rate and Temporal Information"; public code ``hzc1208/HART_Attack``,
attack mode ``avg``).

Each neuron layer keeps its real forward. Backward, the membrane recurrence is cut
(:math:`\partial u(t)/\partial u(t-1) := 0`, the reference code's ``mem.detach()``), each step's
spike derivative is the triangle surrogate of width :math:`\gamma` at that step's pre-reset
potential, and the resulting input-current gradients are averaged over time (the reference's
``GradAvg``), so every step receives the same gradient:

.. math::
    \frac{\partial\mathcal{L}}{\partial I(t)} := \frac1T\sum_{\tau=1}^{T}
      \frac{\partial\mathcal{L}}{\partial s(\tau)}\,h_\gamma\bigl(u(\tau) - \theta\bigr),
    \qquad h_\gamma(x) = \frac{1}{\gamma^2}\max(0, \gamma - |x|).

The time average keeps the rate information (as RGA does), while :math:`h_\gamma` at the actual
potentials keeps the temporal information; :math:`\gamma` trades one for the other (the reference
code searches it per model over 0.1 to 2.5; its default is 1). The reference fires on
:math:`u > \theta` with :math:`\theta = 1`; here the layer's own :math:`\theta` and firing rule
are used, so forward values are exactly the model's.

Cost: one plain forward per layer plus an elementwise backward; the linear layers are
backpropagated through all T steps (as in the reference code).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from snnsec.attacks.gradients.base import GradientEstimator, overriding, register_gradient
from snnsec.errors import InputError
from snnsec.models.base import SpikingModel
from snnsec.neurons import LIF, NeuronState, initial_state


def plain_potentials(
    layer: LIF, x: torch.Tensor, state: NeuronState | None
) -> tuple[torch.Tensor, torch.Tensor, NeuronState]:
    """The layer's plain dynamics without autograd: spikes, pre-reset potentials (both
    ``[T, B, ...]``) and the final state.

    The pre-reset potential :math:`u(t)` is a neuron-specific quantity; this goes through the
    neuron model's ``charge``/``fires``/``reset`` (it belongs in the neuron protocol).
    """
    neuron = layer.neuron
    with torch.no_grad():
        u = (state if state is not None else initial_state(x[0])).u
        spikes, potentials = [], []
        for t in range(x.shape[0]):
            u = neuron.charge(u, x[t])
            z = neuron.fires(u)
            potentials.append(u)
            spikes.append(z)
            u = neuron.reset(u, z)
        return torch.stack(spikes), torch.stack(potentials), NeuronState(u)


def triangle(x: torch.Tensor, width: float) -> torch.Tensor:
    r""":math:`\frac{1}{w^2}\max(0, w - |x|)`: the reference code's ``ZIF`` surrogate."""
    return (width - x.abs()).clamp_min(0.0) / (width * width)


class _TimeAveraged(torch.autograd.Function):
    """Forward: the recorded spikes. Backward: ``mean_t(grad * slope)`` broadcast to every step."""

    @staticmethod
    def forward(ctx, current: torch.Tensor, spikes: torch.Tensor, slope: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(slope)
        return spikes

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        (slope,) = ctx.saved_tensors
        return (grad * slope).mean(0, keepdim=True).expand_as(grad), None, None


@register_gradient
@dataclass
class HART(GradientEstimator):
    """Hybrid rate-and-temporal gradient: per-step surrogate, no recurrence, time-averaged.

    Example::

        >>> est = build_estimator("hart", gamma=1.0)
        >>> with est.applied(model):
        ...     g = est.gradient(model, x, y, cross_entropy)
    """

    gamma: float = field(default=1.0, metadata={
        "help": "HART: width of the triangle surrogate at each step's potential (reference default 1.0; "
                "the authors tune it per model in [0.1, 2.5])"})

    name = "hart"
    summary = "HART: triangle surrogate per step, no membrane recurrence, time-averaged (Hao et al., ICLR 2024)"

    def __post_init__(self) -> None:
        if not self.gamma > 0.0:
            raise InputError(f"hart gamma must be positive, got {self.gamma}")

    def _layer(self, layer: LIF, x: torch.Tensor, state: NeuronState | None) -> tuple[torch.Tensor, NeuronState]:
        spikes, potentials, state = plain_potentials(layer, x.detach(), state)
        slope = triangle(potentials - layer.p.theta, self.gamma)
        return _TimeAveraged.apply(x, spikes, slope), state

    def logits(self, model: SpikingModel, x: torch.Tensor) -> torch.Tensor:
        # the time average needs the whole sequence at once
        with overriding(model, self._layer), model.chunked(None):
            return model(x)
