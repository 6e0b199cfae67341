r"""PDSG: the potential-dependent surrogate gradient (Lun et al., CVPR 2025, "Towards Effective and
Sparse Adversarial Attack on Spiking Neural Networks via Breaking Invisible Surrogate Gradients";
public code ``ryime/PDSG-SDA``, ``PDSG``/``PDSG_LIFNode`` in ``utils/attack.py``).

Backpropagation through time (the recurrence and, by default, the reset path are differentiated,
as in STBP), with a surrogate whose shape follows the distribution of the membrane potential. At
step :math:`t` of a layer, per channel :math:`c`,

.. math::
    \sigma_c(t) = \operatorname{std}\{u_{b,c,\ldots}(\tau) : \tau \le t,\ b,\ \text{spatial}\},
    \qquad
    \frac{\partial s(t)}{\partial u(t)} = \frac{1}{\sqrt{2\pi}\,\sigma}
      \exp\Bigl(-\frac{(u(t) - \theta - k\sigma)^2}{2\sigma^2}\Bigr),

the density of :math:`\mathcal N(k\sigma, \sigma^2)` at :math:`u - \theta` with :math:`k = 1/2`
(the reference code; its commented-out variant has :math:`k = 0`). The standard deviation is the
unbiased one over the pre-reset potentials of steps :math:`1..t`, the batch and the spatial
dimensions (the reference code's "time-accumulated" statistics); where it is 0 or undefined,
:math:`\sigma = 1`. Because :math:`\sigma` pools the batch, one sample's gradient depends on
the other samples of its batch, as in the reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from snnsec.attacks.gradients.base import GradientEstimator, overriding, register_gradient
from snnsec.errors import InputError
from snnsec.models.base import SpikingModel
from snnsec.neurons import LIF, NeuronState, initial_state


class _GaussianSpike(torch.autograd.Function):
    """Forward: :math:`H(x)` with :math:`H(0) = 1`. Backward: the N(k·sigma, sigma^2) density at ``x``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, sigma: torch.Tensor, shift: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, sigma)
        ctx.shift = shift
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        x, sigma = ctx.saved_tensors
        z = (x - ctx.shift * sigma) / sigma
        return grad * torch.exp(-0.5 * z * z) / (math.sqrt(2.0 * math.pi) * sigma), None, None


class _ChannelStd:
    """Running per-channel standard deviation over steps, batch and spatial dims (float64 sums)."""

    def __init__(self) -> None:
        self.n = 0
        self.total: torch.Tensor | None = None
        self.squares: torch.Tensor | None = None

    def add(self, u: torch.Tensor) -> torch.Tensor:
        """Add one step ``u`` [B, C, ...] and return sigma shaped [1, C, 1, ...] in ``u``'s dtype."""
        dims = [0, *range(2, u.dim())]
        u64 = u.detach().double()
        s, q = u64.sum(dims), (u64 * u64).sum(dims)
        self.total = s if self.total is None else self.total + s
        self.squares = q if self.squares is None else self.squares + q
        self.n += u[:, 0].numel()
        if self.n < 2:
            var = torch.zeros_like(self.total)
        else:
            var = ((self.squares - self.total * self.total / self.n) / (self.n - 1)).clamp_min(0.0)
        sigma = var.sqrt().to(u.dtype)
        sigma = torch.where(sigma > 0, sigma, torch.ones_like(sigma))
        return sigma.view(1, -1, *([1] * (u.dim() - 2)))


@register_gradient
@dataclass
class PDSG(GradientEstimator):
    """BPTT with the potential-dependent Gaussian surrogate.

    Example::

        >>> est = build_estimator("pdsg")
        >>> with est.applied(model):
        ...     g = est.gradient(model, x, y, cross_entropy)
    """

    shift: float = field(default=0.5, metadata={
        "help": "PDSG: mean of the Gaussian surrogate in units of sigma, at u - theta (reference: 0.5)"})
    detach_reset: bool = field(default=False, metadata={
        "help": "PDSG: cut the gradient through the reset (reference neuron's default: no)"})

    name = "pdsg"
    summary = "PDSG: BPTT with a Gaussian surrogate scaled by the potential's std (Lun et al., CVPR 2025)"

    def __post_init__(self) -> None:
        if not math.isfinite(self.shift):
            raise InputError(f"pdsg shift must be a finite number, got {self.shift}")

    def _layer(self, layer: LIF, x: torch.Tensor, state: NeuronState | None) -> tuple[torch.Tensor, NeuronState]:
        neuron, theta = layer.neuron, layer.p.theta
        u = (state if state is not None else initial_state(x[0])).u
        stats, spikes = _ChannelStd(), []
        for xt in x.unbind(0):  # not x[t] (see LIF.integrate)
            u = neuron.charge(u, xt)
            sigma = stats.add(u)
            z = _GaussianSpike.apply(u - theta, sigma, self.shift)
            u = neuron.reset(u, z.detach() if self.detach_reset else z)
            spikes.append(z)
        return torch.stack(spikes), NeuronState(u)

    def logits(self, model: SpikingModel, x: torch.Tensor) -> torch.Tensor:
        # sigma accumulates over the whole sequence
        with overriding(model, self._layer), model.chunked(None):
            return model(x)
