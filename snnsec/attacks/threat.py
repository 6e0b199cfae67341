r"""The threat model: an :math:`L_\infty` ball of radius ε around the clean input, inside the input domain.

.. math::
    \Pi(\hat x) = \operatorname{clip}_{[\ell, h]}\bigl(\operatorname{clip}_{[x-\epsilon,\,x+\epsilon]}(\hat x)\bigr)

Both sets are boxes, so clipping to one and then the other is the exact Euclidean projection
onto their intersection.

**Input domains.** Images (direct and Poisson encoders) live in [0, 1]: pixel intensities for the
direct encoder, firing probabilities for the Poisson encoder (§4.4). Event frames live in [0, 1]
too: snnsec's frame datasets bin events into frames and scale them to [0, 1], and the paper
perturbs these preprocessed frames directly (ε = 0.02 on CIFAR10-DVS, §5). Clipping at 0 keeps
event densities non-negative, and at 1 keeps perturbed frames within the range the model was
trained on; the attacker is not allowed to invent event rates a sensor's preprocessing would not
produce.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from snnsec.errors import InputError
from snnsec.models.base import SpikingModel

def input_domain(model: SpikingModel) -> tuple[float, float]:
    """``(low, high)`` of the inputs that ``model``'s encoder accepts (the encoder's ``domain``)."""
    return tuple(model.encoder.domain)  # type: ignore[return-value]


@dataclass(frozen=True)
class LinfBall:
    """:math:`\\{\\hat x : \\|\\hat x - x\\|_\\infty \\le \\epsilon,\\ \\ell \\le \\hat x \\le h\\}`.

    Args:
        eps: radius ε (≥ 0), in input units.
        low, high: the input domain :math:`[\\ell, h]`.

    Example::

        >>> ball = LinfBall(8 / 255)
        >>> x_adv = ball.project(x + 0.1 * torch.randn_like(x), x)   # within 8/255 of x, in [0, 1]
    """

    eps: float
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if not self.eps >= 0.0:
            raise InputError(f"eps must be a non-negative number, got {self.eps}")
        if not self.low < self.high:
            raise InputError(f"input domain must have low < high, got [{self.low}, {self.high}]")

    def project(self, x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The closest point of the ball ∩ domain to ``x_adv`` (``x`` is the clean input)."""
        lo, hi = self.bounds(x)
        x_adv = torch.minimum(torch.maximum(x_adv, lo), hi)
        return x_adv.clamp(self.low, self.high)

    def bounds(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x - eps`` and ``x + eps`` in ``x``'s dtype, rounded towards ``x``.

        Computed in float64 and then rounded, the bounds can land half an ulp outside the ball;
        those are stepped one ulp back, so ``|x_adv - x| <= eps`` holds exactly (in real numbers).
        """
        x64 = x.double()
        lo, hi = (x64 - self.eps).to(x.dtype), (x64 + self.eps).to(x.dtype)
        lo = torch.where(x64 - lo.double() > self.eps, torch.nextafter(lo, x), lo)
        hi = torch.where(hi.double() - x64 > self.eps, torch.nextafter(hi, x), hi)
        return lo, hi

    def random_point(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Uniform noise in the ε-box around ``x`` (not yet projected onto the domain)."""
        noise = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return x + (2.0 * noise - 1.0) * self.eps

    def check_clean(self, x: torch.Tensor) -> None:
        """Refuse clean inputs outside the domain (e.g. already-normalised images)."""
        lo, hi = float(x.min()), float(x.max())
        if lo < self.low - 1e-6 or hi > self.high + 1e-6:
            raise InputError(
                f"clean inputs must lie in the input domain [{self.low}, {self.high}], got values in "
                f"[{lo:.4g}, {hi:.4g}] (pass raw inputs; the model's encoder normalises them)"
            )
