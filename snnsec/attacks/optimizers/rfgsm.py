r"""R+FGSM (Tramèr et al., ICLR 2018, "Ensemble Adversarial Training", Eq. 7): a random sign
step of size α, then a gradient sign step of size ε − α from there.

.. math::
    x' = x + \alpha\operatorname{sign}(\mathcal N(0, I)), \qquad
    \hat x = \Pi\bigl(x' + (\epsilon - \alpha)\operatorname{sign}(\nabla_x \mathcal{L}(f(x'), y))\bigr)

The random step escapes the gradient-masking "kink" at the clean point that defeats plain FGSM.
With ``steps > 1`` the gradient step is repeated from the new point (as torchattacks does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from snnsec.attacks.optimizers.base import OptState, Optimizer, check_steps, register_optimizer
from snnsec.attacks.threat import LinfBall
from snnsec.errors import InputError


@register_optimizer
@dataclass
class RFGSM(Optimizer):
    """Random step then FGSM step (R+FGSM)."""

    alpha: float | None = field(default=None, metadata={"help": "rfgsm: size of the random step (default eps/2, the paper's choice)", "fraction": True})
    steps: int = field(default=1, metadata={"help": "rfgsm: gradient steps of size eps - alpha"})

    name = "rfgsm"
    summary = "R+FGSM: random sign step alpha, then gradient sign step eps - alpha (Tramèr et al., ICLR 2018)"

    def __post_init__(self) -> None:
        check_steps(self.name, self.steps, self.alpha)

    def _alpha(self, ball: LinfBall) -> float:
        alpha = ball.eps / 2 if self.alpha is None else self.alpha
        if alpha > ball.eps:
            raise InputError(f"rfgsm alpha must not exceed eps, got alpha={alpha} with eps={ball.eps}")
        return alpha

    def init(self, x: torch.Tensor, ball: LinfBall, generator: torch.Generator | None) -> tuple[torch.Tensor, OptState]:
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return x + self._alpha(ball) * noise.sign(), None

    def step(self, x_adv: torch.Tensor, grad: torch.Tensor, state: OptState, ball: LinfBall) -> tuple[torch.Tensor, OptState]:
        return x_adv + (ball.eps - self._alpha(ball)) * grad.sign(), state
