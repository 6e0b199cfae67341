r"""FGSM (Goodfellow et al., 2015; paper Eq. 9): one step of size ε along the gradient sign.

.. math:: \hat x = \Pi\bigl(x + \epsilon\,\operatorname{sign}(\nabla_x \mathcal{L}(f(x), y))\bigr)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from snnsec.attacks.optimizers.base import OptState, Optimizer, register_optimizer
from snnsec.attacks.threat import LinfBall


@register_optimizer
@dataclass
class FGSM(Optimizer):
    """Single step of size ε (no options)."""

    name = "fgsm"
    summary = "one step of size eps along the gradient sign (Eq. 9)"

    def step(self, x_adv: torch.Tensor, grad: torch.Tensor, state: OptState, ball: LinfBall) -> tuple[torch.Tensor, OptState]:
        return x_adv + ball.eps * grad.sign(), state
