r"""APGD (Croce & Hein, ICML 2020, "Reliable evaluation of adversarial robustness with an ensemble
of diverse parameter-free attacks", Alg. 1), the step-size-free PGD of AutoAttack, L-inf.

.. math::
    z^{(k+1)} &= \Pi\bigl(x^{(k)} + \eta^{(k)}\operatorname{sign}(\nabla f(x^{(k)}))\bigr)\\
    x^{(k+1)} &= \Pi\bigl(x^{(k)} + \alpha(z^{(k+1)} - x^{(k)}) + (1-\alpha)(x^{(k)} - x^{(k-1)})\bigr)

with momentum :math:`\alpha = 0.75` (none on the first step), :math:`\eta^{(0)} = 2\epsilon`,
and a start at :math:`x + \epsilon\,t/\|t\|_\infty`, :math:`t \sim \mathcal U[-1,1]^n`. At the
checkpoints (the first after :math:`\lceil 0.22 N\rceil` steps, then at intervals shrinking by
:math:`0.03N` down to :math:`0.06N`, as in the AutoAttack code) the step size of a sample is
halved and it restarts from its best point when either

1. the loss rose in at most a share :math:`\rho = 0.75` of the steps since the last checkpoint
   (oscillation), or
2. its step size was not halved at the last checkpoint and its best loss has not improved since.

The attack returns, for every sample, the evaluated point with the highest loss.

**Loss values.** The conditions and the best point need each sample's loss at every iterate;
the attack loop passes them as ``losses`` (from
:meth:`~snnsec.attacks.gradients.GradientEstimator.loss_and_gradient`) because
:attr:`uses_losses` is true. Called without them, the step size is halved at every checkpoint
and the last iterate is returned: a fixed schedule rather than APGD's adaptive one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from snnsec.attacks.optimizers.base import OptState, Optimizer, check_steps, register_optimizer
from snnsec.attacks.threat import LinfBall
from snnsec.errors import InputError


class Schedule:
    """AutoAttack's checkpoint schedule: first after ``max(int(0.22 N), 1)`` steps, then at
    intervals shrinking by ``max(int(0.03 N), 1)`` down to ``max(int(0.06 N), 1)``."""

    def __init__(self, steps: int) -> None:
        self.interval = max(int(0.22 * steps), 1)
        self.shrink = max(int(0.03 * steps), 1)
        self.shortest = max(int(0.06 * steps), 1)
        self.counter = 0

    def tick(self) -> int:
        """Count one step; at a checkpoint return the interval that ends there, else 0."""
        self.counter += 1
        if self.counter < self.interval:
            return 0
        ended, self.counter = self.interval, 0
        self.interval = max(self.interval - self.shrink, self.shortest)
        return ended


def boundary_start(x: torch.Tensor, ball: LinfBall, generator: torch.Generator | None) -> torch.Tensor:
    """``x + eps * t / max|t|`` with ``t ~ U[-1, 1]`` per sample: a random point on the ball's surface."""
    t = 2 * torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) - 1
    scale = t.flatten(1).abs().amax(1).clamp_min(1e-12).view(-1, *([1] * (x.dim() - 1)))
    return x + ball.eps * t / scale


def _per_sample(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.view(-1, *([1] * (like.dim() - 1)))


@dataclass
class APGDState:
    x: torch.Tensor  # the clean input
    eta: torch.Tensor  # [B] step sizes
    schedule: Schedule
    k: int = 0  # gradients seen
    x_prev: torch.Tensor | None = None
    history: list[torch.Tensor] = field(default_factory=list)  # [B] loss at every evaluated point
    x_best: torch.Tensor | None = None
    grad_best: torch.Tensor | None = None
    f_best: torch.Tensor | None = None
    f_best_at_check: torch.Tensor | None = None
    reduced_at_check: torch.Tensor | None = None


@register_optimizer
@dataclass
class APGD(Optimizer):
    """Auto-PGD: momentum 0.75, step size from 2·eps halved at adaptive checkpoints, best point returned."""

    steps: int = field(default=100, metadata={"help": "apgd: gradient evaluations N (AutoAttack: 100)"})
    random_start: bool = field(default=True, metadata={"help": "apgd: start on a random point of the ball's surface"})
    momentum: float = field(default=0.75, metadata={"help": "apgd: momentum alpha of the update (paper: 0.75)"})
    rho: float = field(default=0.75, metadata={"help": "apgd: oscillation threshold rho of checkpoint condition 1 (paper: 0.75)"})

    name = "apgd"
    summary = "Auto-PGD: step-size-free PGD with momentum and adaptive checkpoints (Croce & Hein, ICML 2020)"
    uses_losses: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_steps(self.name, self.steps, None)
        if not 0.0 < self.momentum <= 1.0:
            raise InputError(f"apgd momentum must lie in (0, 1], got {self.momentum}")
        if not 0.0 < self.rho <= 1.0:
            raise InputError(f"apgd rho must lie in (0, 1], got {self.rho}")

    def init(self, x: torch.Tensor, ball: LinfBall, generator: torch.Generator | None) -> tuple[torch.Tensor, OptState]:
        start = boundary_start(x, ball, generator) if self.random_start else x.clone()
        eta = torch.full((x.shape[0],), 2.0 * ball.eps, dtype=x.dtype, device=x.device)
        return start, APGDState(x=x, eta=eta, schedule=Schedule(self.steps))

    def step(
        self, x_adv: torch.Tensor, grad: torch.Tensor, state: OptState, ball: LinfBall, losses: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, OptState]:
        s: APGDState = state
        k, s.k = s.k, s.k + 1
        if losses is not None:
            f = losses.detach().to(x_adv.dtype)
            if s.f_best is None:
                s.x_best, s.grad_best, s.f_best = x_adv.clone(), grad.clone(), f.clone()
                s.f_best_at_check = f.clone()
                s.reduced_at_check = torch.ones_like(f, dtype=torch.bool)
            else:
                better = f > s.f_best
                s.x_best[better], s.grad_best[better], s.f_best[better] = x_adv[better], grad[better], f[better]
            s.history.append(f)
        if k >= 1:
            ended = s.schedule.tick()
            if ended:
                x_adv, grad = self._checkpoint(s, ended, x_adv, grad)
        if losses is not None and k == self.steps - 1:
            return s.x_best.clone(), s  # type: ignore[union-attr]  # the best evaluated point
        eta = _per_sample(s.eta, x_adv)
        z = ball.project(x_adv + eta * grad.sign(), s.x)
        if k >= 1 and s.x_prev is not None:
            a = self.momentum
            z = ball.project(x_adv + a * (z - x_adv) + (1 - a) * (x_adv - s.x_prev), s.x)
        s.x_prev = x_adv.clone()
        return z, s

    def _checkpoint(self, s: APGDState, interval: int, x_adv: torch.Tensor, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if s.f_best is None:  # no loss values: a fixed schedule
            s.eta /= 2
            return x_adv, grad
        h = torch.stack(s.history[-interval - 1 :])  # [interval + 1, B]
        rises = (h[1:] > h[:-1]).sum(0)
        oscillating = rises <= interval * self.rho
        stalled = ~s.reduced_at_check & (s.f_best_at_check >= s.f_best)  # type: ignore[operator]
        reduce = oscillating | stalled
        s.reduced_at_check, s.f_best_at_check = reduce, s.f_best.clone()
        if reduce.any():
            s.eta[reduce] /= 2
            x_adv, grad = x_adv.clone(), grad.clone()
            x_adv[reduce], grad[reduce] = s.x_best[reduce], s.grad_best[reduce]  # type: ignore[index]
        return x_adv, grad

