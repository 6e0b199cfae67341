r"""RGA computed per time step, the way the reference code does it: the test oracle for :mod:`.rga`.

Every neuron layer runs its real T-step dynamics forward (no gradient), and backward multiplies
the gradient of each step's spikes by the same rate slope (Eq. 15/19, §4.3) taken at the
time-averaged input current :math:`\bar I`:

.. math::
    \frac{\partial s(t)}{\partial I(t)} := \frac{\partial r}{\partial \bar I}(\bar I)
    \quad\text{for every } t, \qquad \frac{\partial u(t)}{\partial u(t-1)} := 0,

then backpropagates through time through the linear layers (the T copies of every layer are
kept, so memory and time grow with T). Because the slope is constant in time and the layers in
between are linear, this equals the rate-domain computation of :class:`~.rga.RGA`; the test
suite checks that. It also supports stateless layers that do not commute with the time average.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from snnsec.attacks.gradients.base import GradientEstimator, overriding, register_gradient
from snnsec.errors import InputError
from snnsec.models.base import SpikingModel
from snnsec.neurons import LIF, NeuronState


@register_gradient
@dataclass
class NaiveRGA(GradientEstimator):
    """Per-step RGA: the rate slope broadcast to every step, BPTT through the linear layers.

    Args:
        beta, gamma: as in :class:`~snnsec.attacks.gradients.rga.RGA`.
    """

    beta: float = field(default=2.0, metadata={"help": "RGA relaxation beta >= 1: the slope is non-zero on [0, beta*theta]"})
    gamma: float = field(default=0.2, metadata={"help": "RGA slope gamma on [0, (1-lambda)*theta] for leaky neurons"})

    name = "rga-naive"
    summary = "RGA broadcast to every step with BPTT (reference form; slower, same gradient)"

    def __post_init__(self) -> None:
        if not self.beta >= 1.0 or not self.gamma >= 0.0:
            raise InputError(f"RGA needs beta >= 1 and gamma >= 0, got beta={self.beta}, gamma={self.gamma}")

    def _per_step(self, layer: LIF, x: torch.Tensor, state: NeuronState | None) -> tuple[torch.Tensor, NeuronState]:
        with torch.no_grad():
            z, state = layer.integrate(x.detach(), state)
            slope = layer.neuron.rga_slope(x.detach().mean(0), self.beta, self.gamma)
        # value z; d z(t) / d I(t) = slope at every step; nothing through the membrane recurrence
        return z + slope * (x - x.detach()), state

    def logits(self, model: SpikingModel, x: torch.Tensor) -> torch.Tensor:
        # the slope needs the average over the whole sequence, so no time chunks here
        with overriding(model, self._per_step), model.chunked(None):
            return model(x)
