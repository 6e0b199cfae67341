r"""The attack loop, written once: gradient estimator x optimizer x threat model x loss.

.. code-block:: text

    x_adv, state = optimizer.init(x, ball);  x_adv = ball.project(x_adv, x)
    repeat optimizer.n_steps times:
        g = estimator.gradient(model, x_adv, y, loss)          # STBP, RGA, ... backward
        x_adv, state = optimizer.step(x_adv, g, state, ball)   # FGSM, PGD, BIM, MI-FGSM
        x_adv = ball.project(x_adv, x)                         # L-inf ball ∩ input domain

**Threat model.** Untargeted evasion under an :math:`L_\infty` budget ε on the model's raw input
(pixels in [0, 1], or preprocessed event frames in [0, 1]); white box when the gradients come from
the target itself, black box (transfer) when they come from a separately trained substitute.
**Time extension** (§4.5): with ``te = K`` the gradients are taken with K·T simulation steps,
while the model is evaluated at its own T.

**Shapes.** ``x`` is ``[B, *sample_shape]`` in the input domain, ``y`` is ``[B]`` class ids; the
result has the shape of ``x``.

Attack names are ``<gradient>-<optimizer>``, built from the two registries, e.g. ``rga-pgd``.

Example::

    >>> spec = AttackSpec("rga-pgd", eps="8/255", alpha="2/255", steps=5)
    >>> attack = spec.build()
    >>> x_adv = attack(model, x, y, generator=torch.Generator().manual_seed(0))
    >>> float((x_adv - x).abs().max()) <= 8 / 255 + 1e-6
    True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from snnsec.attacks.gradients import GRADIENTS, GradientEstimator, Loss, build_estimator
from snnsec.attacks.losses import get_loss
from snnsec.attacks.optimizers import OPTIMIZERS, Optimizer, build_optimizer
from snnsec.attacks.threat import LinfBall
from snnsec.errors import InputError, unknown_choice
from snnsec.models.base import SpikingModel
from snnsec.utils.numbers import parse_fraction


def attack_names() -> list[str]:
    """Every ``<gradient>-<optimizer>`` combination of the registries."""
    return sorted(f"{g}-{o}" for g in GRADIENTS for o in OPTIMIZERS)


def split_attack_name(name: str) -> tuple[str, str]:
    """``"rga-pgd"`` -> ``("rga", "pgd")``; an unknown name lists the valid ones."""
    gradient, _, optimizer = name.rpartition("-")
    if gradient not in GRADIENTS or optimizer not in OPTIMIZERS:
        raise unknown_choice("attack", name, attack_names())
    return gradient, optimizer


@dataclass
class Attack:
    """A built attack: call it on a model and a batch. See the module docstring."""

    estimator: GradientEstimator
    optimizer: Optimizer
    threat: LinfBall
    loss: Loss
    te: int = 1

    def __call__(
        self, model: SpikingModel, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return self.perturb(model, x, y, generator)

    def perturb(
        self, model: SpikingModel, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Adversarial version of ``x`` (detached, same shape) against ``model``'s gradients."""
        if self.te > 1 and not model.encoder.time_extensible:
            raise InputError(f"time extension needs an encoder whose steps can be extended; the "
                             f"{model.encoder.name} encoder has a fixed number of steps (te=1 expected, got {self.te})")
        model.check_input(x)
        ball = self.threat
        ball.check_clean(x)
        x = x.detach()
        with model.timesteps(model.T * self.te), self.estimator.applied(model):
            x_adv, state = self.optimizer.init(x, ball, generator)
            x_adv = ball.project(x_adv, x)
            for _ in range(self.optimizer.n_steps):
                grad = self.estimator.gradient(model, x_adv, y, self.loss, generator)
                x_adv, state = self.optimizer.step(x_adv, grad, state, ball)
                x_adv = ball.project(x_adv, x).detach()
        return x_adv


@dataclass(frozen=True)
class AttackSpec:
    """An attack as the user wrote it; JSON data, stored in adversarial files.

    ``eps`` and ``alpha`` keep their spelling (``"8/255"``); ``None`` options keep the
    optimizer's or estimator's defaults. Options that the chosen optimizer or estimator does not
    have are refused by :meth:`build`.

    Args:
        attack: ``<gradient>-<optimizer>``, see :func:`attack_names`.
        eps: L-inf budget, a number or fraction. alpha: step size (iterative optimizers).
        steps, random_start, decay: optimizer options. beta, gamma: RGA options.
        loss: ``ce`` or ``margin``. te: time-extension factor K (craft with K·T steps).
    """

    attack: str
    eps: str
    alpha: str | None = None
    steps: int | None = None
    random_start: bool | None = None
    decay: float | None = None
    loss: str = "ce"
    te: int = 1
    beta: float | None = None
    gamma: float | None = None

    def build(self, domain: tuple[float, float] = (0.0, 1.0)) -> Attack:
        gradient, optimizer = split_attack_name(self.attack)
        if self.te < 1:
            raise InputError(f"time extension factor must be a positive integer, got {self.te}")
        eps = parse_fraction(self.eps, "eps")
        alpha = parse_fraction(self.alpha, "alpha") if self.alpha is not None else None
        return Attack(
            estimator=build_estimator(gradient, beta=self.beta, gamma=self.gamma),
            optimizer=build_optimizer(
                optimizer, alpha=alpha, steps=self.steps, random_start=self.random_start, decay=self.decay
            ),
            threat=LinfBall(eps, *domain),
            loss=get_loss(self.loss),
            te=int(self.te),
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self, domain: tuple[float, float] = (0.0, 1.0)) -> dict[str, Any]:
        """The spec plus what it resolves to (numbers, estimator and optimizer options)."""
        attack = self.build(domain)
        return {
            **self.to_dict(),
            "eps_value": attack.threat.eps,
            "domain": list(domain),
            "gradient": attack.estimator.config(),
            "optimizer": attack.optimizer.config(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AttackSpec":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
