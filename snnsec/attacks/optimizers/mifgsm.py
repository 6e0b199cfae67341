r"""MI-FGSM (Dong et al., 2018): sign steps along an accumulated, L1-normalised gradient.

.. math::
    g^{k} = \mu\, g^{k-1} + \frac{\nabla_x \mathcal{L}(f(\hat x^{k-1}), y)}
                               {\|\nabla_x \mathcal{L}(f(\hat x^{k-1}), y)\|_1 / n}, \qquad
    \hat x^{k} = \Pi\bigl(\hat x^{k-1} + \alpha\,\operatorname{sign}(g^{k})\bigr)

The L1 norm is taken per sample (``n`` = elements of one sample, as torchattacks does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from snnsec.attacks.optimizers.base import OptState, Optimizer, check_steps, register_optimizer
from snnsec.attacks.threat import LinfBall
from snnsec.errors import InputError


@register_optimizer
@dataclass
class MIFGSM(Optimizer):
    """Momentum iterative FGSM.

    Args:
        alpha: step size (default ε/4).
        steps: gradient steps.
        decay: momentum factor μ (1.0 in the original paper).
    """

    alpha: float | None = field(default=None, metadata={"help": "step size, a number or fraction (default eps/4)", "fraction": True})
    steps: int = field(default=5, metadata={"help": "gradient steps of iterative attacks"})
    decay: float = field(default=1.0, metadata={"help": "MI-FGSM momentum decay mu"})

    name = "mifgsm"
    summary = "iterated FGSM with momentum decay mu on L1-normalised gradients (Dong et al.)"

    def __post_init__(self) -> None:
        check_steps(self.name, self.steps, self.alpha)
        if not self.decay >= 0:
            raise InputError(f"mifgsm needs a non-negative momentum decay, got {self.decay}")

    def init(self, x: torch.Tensor, ball: LinfBall, generator: torch.Generator | None) -> tuple[torch.Tensor, OptState]:
        return x.clone(), torch.zeros_like(x)

    def step(self, x_adv: torch.Tensor, grad: torch.Tensor, state: OptState, ball: LinfBall) -> tuple[torch.Tensor, OptState]:
        scale = grad.abs().flatten(1).mean(1).clamp_min(1e-12).view(-1, *([1] * (grad.dim() - 1)))
        momentum = self.decay * state + grad / scale
        return x_adv + self.step_size(self.alpha, ball) * momentum.sign(), momentum
