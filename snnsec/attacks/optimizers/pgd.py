r"""PGD (Madry et al., 2018; paper Eq. 10): projected steps of size α from a random start.

.. math::
    \hat x^0 = \Pi(x + \mathcal{U}[-\epsilon, \epsilon]^n) \text{ (or } x\text{)}, \qquad
    \hat x^{k} = \Pi\bigl(\hat x^{k-1} + \alpha\,\operatorname{sign}(\nabla_x \mathcal{L}(f(\hat x^{k-1}), y))\bigr)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from snnsec.attacks.optimizers.base import OptState, Optimizer, check_steps, register_optimizer
from snnsec.attacks.threat import LinfBall


@register_optimizer
@dataclass
class PGD(Optimizer):
    """Projected sign-gradient ascent.

    Args:
        alpha: step size (default ε/4: the paper's 2/255 at ε = 8/255).
        steps: gradient steps (paper Table 2: 5).
        random_start: start from a uniform point of the ε-ball (the reference code's default).
    """

    alpha: float | None = field(default=None, metadata={"help": "step size, a number or fraction (default eps/4)", "fraction": True})
    steps: int = field(default=5, metadata={"help": "gradient steps of iterative attacks"})
    random_start: bool = field(default=True, metadata={"help": "start from a random point of the eps-ball"})

    name = "pgd"
    summary = "projected sign steps of size alpha, optionally from a random start (Eq. 10)"

    def __post_init__(self) -> None:
        check_steps(self.name, self.steps, self.alpha)

    def init(self, x: torch.Tensor, ball: LinfBall, generator: torch.Generator | None) -> tuple[torch.Tensor, OptState]:
        return (ball.random_point(x, generator) if self.random_start else x.clone()), None

    def step(self, x_adv: torch.Tensor, grad: torch.Tensor, state: OptState, ball: LinfBall) -> tuple[torch.Tensor, OptState]:
        return x_adv + self.step_size(self.alpha, ball) * grad.sign(), state
