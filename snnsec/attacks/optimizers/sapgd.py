r"""SA-PGD, the stable adaptive PGD of arXiv 2512.22522 ("Towards Reliable Evaluation of
Adversarial Robustness for Spiking Neural Networks"; public code ``ASSG_SAPGD`` in
``craree/Towards-Reliable-Evaluation-of-Adversarial-Robustness-for-Spiking-Neural-Networks``).

An Adam-like update on per-sample normalised gradients, clipped to the step size:

.. math::
    m^{(k)} &= \beta_1 m^{(k-1)} + \frac{g^{(k)}}{\operatorname{mean}|g^{(k)}|}, \qquad
    v^{(k)} = \beta_2 v^{(k-1)} + \frac{(g^{(k)})^2}{\operatorname{mean}(g^{(k)})^2}\\
    x^{(k+1)} &= \Pi\Bigl(x^{(k)} + \operatorname{clip}_{[-\eta, \eta]}
        \bigl(\eta\, m^{(k)} / (\sqrt{v^{(k)}} + 10^{-12})\bigr)\Bigr)

(:math:`m^{(0)} = g^{(0)}/\operatorname{mean}|g^{(0)}|`, likewise :math:`v`; means per sample),
with :math:`\beta_1 = 0.5`, :math:`\beta_2 = 0.8`, :math:`\eta^{(0)} = \epsilon`, a random start on
the ball's surface, and the step size halved at AutoAttack's checkpoints regardless of the loss.
Unlike sign steps, the magnitudes of the gradient survive, so neurons whose surrogate gradient
is tiny but consistent still move the input. The attack loop passes per-sample ``losses``, so it returns each
sample's best evaluated point (without them: the last iterate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from snnsec.attacks.optimizers.apgd import Schedule, boundary_start
from snnsec.attacks.optimizers.base import OptState, Optimizer, check_steps, register_optimizer
from snnsec.attacks.threat import LinfBall
from snnsec.errors import InputError


@dataclass
class SAPGDState:
    x: torch.Tensor
    eta: float
    schedule: Schedule
    k: int = 0
    m: torch.Tensor | None = None
    v: torch.Tensor | None = None
    x_best: torch.Tensor | None = None
    f_best: torch.Tensor | None = None


def _mean_per_sample(t: torch.Tensor) -> torch.Tensor:
    return t.abs().flatten(1).mean(1).clamp_min(1e-30).view(-1, *([1] * (t.dim() - 1)))


@register_optimizer
@dataclass
class SAPGD(Optimizer):
    """Stable adaptive PGD (normalised first and second moments, clipped steps, halving schedule)."""

    steps: int = field(default=100, metadata={"help": "sapgd: gradient evaluations"})
    beta1: float = field(default=0.5, metadata={"help": "sapgd: decay of the first moment (reference: 0.5)"})
    beta2: float = field(default=0.8, metadata={"help": "sapgd: decay of the second moment (reference: 0.8)"})
    random_start: bool = field(default=True, metadata={"help": "sapgd: start on a random point of the ball's surface"})

    name = "sapgd"
    summary = "SA-PGD: Adam-like clipped steps on normalised gradients, halving schedule (arXiv 2512.22522)"
    uses_losses: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_steps(self.name, self.steps, None)
        for key in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise InputError(f"sapgd {key} must lie in [0, 1), got {getattr(self, key)}")

    def init(self, x: torch.Tensor, ball: LinfBall, generator: torch.Generator | None) -> tuple[torch.Tensor, OptState]:
        start = boundary_start(x, ball, generator) if self.random_start else x.clone()
        return start, SAPGDState(x=x, eta=ball.eps, schedule=Schedule(self.steps))

    def step(
        self, x_adv: torch.Tensor, grad: torch.Tensor, state: OptState, ball: LinfBall, losses: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, OptState]:
        s: SAPGDState = state
        k, s.k = s.k, s.k + 1
        if losses is not None:
            f = losses.detach().to(x_adv.dtype)
            if s.f_best is None:
                s.x_best, s.f_best = x_adv.clone(), f.clone()
            else:
                better = f > s.f_best
                s.x_best[better], s.f_best[better] = x_adv[better], f[better]
            if k == self.steps - 1:
                return s.x_best.clone(), s  # type: ignore[union-attr]
        if k >= 1 and s.schedule.tick():
            s.eta /= 2
        g1 = grad / _mean_per_sample(grad)
        g2 = grad * grad / _mean_per_sample(grad * grad)
        s.m = g1 if s.m is None else self.beta1 * s.m + g1
        s.v = g2 if s.v is None else self.beta2 * s.v + g2
        t = (s.m / (s.v.sqrt() + 1e-12) * s.eta).clamp(-s.eta, s.eta)
        return x_adv + t, s
