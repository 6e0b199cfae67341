r"""BIM / I-FGSM (Kurakin et al., 2017): iterated FGSM from the clean input, step α, clipped to the ball.

.. math::
    \hat x^0 = x, \qquad
    \hat x^{k} = \Pi\bigl(\hat x^{k-1} + \alpha\,\operatorname{sign}(\nabla_x \mathcal{L}(f(\hat x^{k-1}), y))\bigr)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from snnsec.attacks.optimizers.base import OptState, Optimizer, check_steps, register_optimizer
from snnsec.attacks.threat import LinfBall


@register_optimizer
@dataclass
class BIM(Optimizer):
    """Iterated FGSM without random start.

    Args:
        alpha: step size (default ε/4).
        steps: gradient steps.
    """

    alpha: float | None = field(default=None, metadata={"help": "step size, a number or fraction (default eps/4)", "fraction": True})
    steps: int = field(default=5, metadata={"help": "gradient steps of iterative attacks"})

    name = "bim"
    summary = "iterated FGSM from the clean input, step alpha (Kurakin et al.)"

    def __post_init__(self) -> None:
        check_steps(self.name, self.steps, self.alpha)

    def step(self, x_adv: torch.Tensor, grad: torch.Tensor, state: OptState, ball: LinfBall) -> tuple[torch.Tensor, OptState]:
        return x_adv + self.step_size(self.alpha, ball) * grad.sign(), state
