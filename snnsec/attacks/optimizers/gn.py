r"""Gaussian noise: the model-blind baseline that every gradient attack must beat.

.. math:: \hat x = \Pi\bigl(x + \sigma\,\mathcal N(0, I)\bigr)

It uses no gradient (no backward pass at all). With ``steps = K > 1`` the noise is a projected
random walk of K increments of standard deviation :math:`\sigma/\sqrt K`, which ends nearer the
ball's surface than one draw. A gradient attack that does worse than this at the same ε points
to gradient masking (see :mod:`snnsec.evaluation.masking`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from snnsec.attacks.optimizers.base import OptState, Optimizer, register_optimizer
from snnsec.attacks.threat import LinfBall
from snnsec.errors import InputError


@register_optimizer
@dataclass
class GN(Optimizer):
    """Gaussian noise, projected onto the ball; never asks for a gradient."""

    std: float | None = field(default=None, metadata={"help": "gn: noise standard deviation sigma (default eps)", "fraction": True})
    steps: int = field(default=1, metadata={"help": "gn: random-walk increments of std sigma/sqrt(steps), each projected"})

    name = "gn"
    summary = "Gaussian noise baseline, projected onto the eps-ball (uses no gradient)"

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise InputError(f"gn needs at least one step, got steps={self.steps}")
        if self.std is not None and not self.std > 0:
            raise InputError(f"gn std must be positive, got {self.std}")

    @property
    def n_steps(self) -> int:
        return 0  # no gradient evaluations: the noise is drawn in init

    def init(self, x: torch.Tensor, ball: LinfBall, generator: torch.Generator | None) -> tuple[torch.Tensor, OptState]:
        sigma = (ball.eps if self.std is None else self.std) / math.sqrt(self.steps)
        x_adv = x
        for _ in range(self.steps):
            noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            x_adv = ball.project(x_adv + sigma * noise, x)
        return x_adv, None

    def step(self, x_adv: torch.Tensor, grad: torch.Tensor, state: OptState, ball: LinfBall) -> tuple[torch.Tensor, OptState]:
        return x_adv, state  # never called: n_steps is 0
