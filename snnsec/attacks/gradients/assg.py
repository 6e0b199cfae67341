r"""ASSG: the adaptive-sharpness surrogate gradient (arXiv 2512.22522, "Towards Reliable Evaluation
of Adversarial Robustness for Spiking Neural Networks"; public code
``craree/Towards-Reliable-Evaluation-of-Adversarial-Robustness-for-Spiking-Neural-Networks``,
``ASSGrad`` in ``my_node.py``, used by its ``ASSG_SAPGD`` attack).

Backpropagation through time through the membrane recurrence (the reset is detached, as in the
reference neuron), with the arctangent surrogate whose sharpness :math:`\alpha` is set per
neuron, layer and time step from the statistics of :math:`x = u(t) - \theta` seen so far during
the attack:

.. math::
    \frac{\partial s}{\partial u} = \frac{\alpha/2}{1 + (\frac{\pi}{2}\alpha x)^2}, \qquad
    \alpha = \frac{\omega}{M + \rho D + 10^{-4}}, \qquad
    \omega = \frac{2}{\pi}\tan(\pi A),

where :math:`M \leftarrow \beta_1 M + (1-\beta_1)|x|` and
:math:`D \leftarrow \beta_2 D + (1-\beta_2)\,\bigl||x| - M\bigr|` are exponential moving averages
over the attack's iterations (started at :math:`M = 1, D = 0`; :math:`D` uses the updated
:math:`M`), so :math:`\alpha \approx \omega / \mathbb E|u - \theta|`: neurons that sit far from
the threshold get a wider surrogate and stop hiding their gradient. :math:`A` is the upper bound
of the expected gradient-vanishing degree; the reference attack uses :math:`A = 0.425`,
:math:`\rho = 1.5`, :math:`\beta_1 = \beta_2 = 0.9`.

The moments live for one :meth:`~GradientEstimator.applied` context (one attack on one batch)
and start afresh in the next. Evaluating the gradient again at the same input (expectation over
transformation, ``--eot``) does not update them, as the reference's ``eot_flag`` does.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
import torch

from snnsec.attacks.gradients.base import GradientEstimator, overriding, register_gradient
from snnsec.errors import InputError
from snnsec.models.base import SpikingModel
from snnsec.neurons import LIF, NeuronState, initial_state


class _AtanSpike(torch.autograd.Function):
    """Forward: :math:`H(x)` with :math:`H(0) = 1`. Backward: ``(alpha/2) / (1 + (pi/2 alpha x)^2)``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, alpha)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        x, alpha = ctx.saved_tensors
        return grad * (alpha / 2) / (1 + (math.pi / 2 * alpha * x) ** 2), None


@register_gradient
@dataclass
class ASSG(GradientEstimator):
    """BPTT with the adaptive-sharpness arctangent surrogate (stateful over one attack)."""

    vanish: float = field(default=0.425, metadata={
        "help": "ASSG: upper bound A of the expected gradient-vanishing degree, in (0, 0.5); "
                "omega = 2 tan(pi A) / pi (reference attack: 0.425)"})
    relax: float = field(default=1.5, metadata={"help": "ASSG: weight rho of the deviation term D (reference: 1.5)"})
    beta1: float = field(default=0.9, metadata={"help": "ASSG: EMA factor of the mean |u - theta| (reference: 0.9)"})
    beta2: float = field(default=0.9, metadata={"help": "ASSG: EMA factor of the deviation D (reference: 0.9)"})

    name = "assg"
    summary = "ASSG: BPTT, arctan surrogate with per-neuron sharpness omega/E|u-theta| (arXiv 2512.22522)"

    def __post_init__(self) -> None:
        if not 0.0 < self.vanish < 0.5:
            raise InputError(f"assg vanish must lie in (0, 0.5), got {self.vanish}")
        if not self.relax >= 0.0:
            raise InputError(f"assg relax must be non-negative, got {self.relax}")
        for key in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise InputError(f"assg {key} must lie in [0, 1), got {getattr(self, key)}")
        self._moments: dict[tuple[LIF, int], tuple[torch.Tensor, torch.Tensor]] = {}
        self._last_x: torch.Tensor | None = None
        self._update = True

    @property
    def omega(self) -> float:
        """The sharpness numerator :math:`\\omega = 2\\tan(\\pi A)/\\pi`."""
        return 2.0 * math.tan(math.pi * self.vanish) / math.pi

    @contextlib.contextmanager
    def _install(self, model: SpikingModel) -> Iterator[None]:
        self._moments, self._last_x, self._update = {}, None, True
        try:
            yield
        finally:
            self._moments, self._last_x = {}, None

    def sharpness(self, layer: LIF, t: int, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\alpha` of step ``t`` of ``layer`` after (optionally) folding ``x = u - theta`` into the moments."""
        key = (layer, t)
        if key in self._moments and self._moments[key][0].shape != x.shape:
            raise InputError(f"assg keeps per-neuron statistics for one batch; got a batch of shape "
                             f"{tuple(x.shape)} after {tuple(self._moments[key][0].shape)} (use one attack per batch)")
        m, d = self._moments.get(key, (torch.ones_like(x), torch.zeros_like(x)))
        if self._update:
            a = x.detach().abs()
            m = self.beta1 * m + (1 - self.beta1) * a
            d = self.beta2 * d + (1 - self.beta2) * (a - m).abs()
            self._moments[key] = (m, d)
        return self.omega / (m + self.relax * d + 1e-4)

    def _layer(self, layer: LIF, x: torch.Tensor, state: NeuronState | None) -> tuple[torch.Tensor, NeuronState]:
        neuron, theta = layer.neuron, layer.p.theta
        u = (state if state is not None else initial_state(x[0])).u
        spikes = []
        for t, xt in enumerate(x.unbind(0)):  # not x[t] (see LIF.integrate)
            u = neuron.charge(u, xt)
            z = _AtanSpike.apply(u - theta, self.sharpness(layer, t, u - theta))
            u = neuron.reset(u, z.detach())
            spikes.append(z)
        return torch.stack(spikes), NeuronState(u)

    def logits(self, model: SpikingModel, x: torch.Tensor) -> torch.Tensor:
        # a repeated evaluation at the same point (EOT) leaves the moments alone
        same = self._last_x is not None and self._last_x.shape == x.shape and torch.equal(self._last_x, x)
        self._update = not same
        self._last_x = x.detach().clone()
        # statistics are indexed by step, so the whole sequence runs at once
        with overriding(model, self._layer), model.chunked(None):
            return model(x)
