r"""The attack loop, written once: gradient estimator x optimizer x threat model x loss.

.. code-block:: text

    x_adv, state = optimizer.init(x, ball);  x_adv = ball.project(x_adv, x)
    repeat optimizer.n_steps times:
        g = estimator.gradient(model, x_adv, y, loss)          # STBP, RGA, ... backward
        x_adv, state = optimizer.step(x_adv, g, state, ball)   # FGSM, PGD, APGD, ...
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

from dataclasses import dataclass
from typing import Any

import torch

from snnsec.attacks.gradients import GRADIENTS, GradientEstimator, Loss, build_estimator
from snnsec.attacks.losses import get_loss
from snnsec.attacks.optimizers import OPTIMIZERS, Optimizer, build_optimizer
from snnsec.attacks.threat import LinfBall
from snnsec.errors import InputError, unknown_choice, unknown_option
from snnsec.models.base import SpikingModel
from snnsec.utils.numbers import parse_fraction
from snnsec.utils.options import option_fields


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
    eot: int = 1

    def __call__(
        self, model: SpikingModel, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None,
        active: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.perturb(model, x, y, generator, active)

    def perturb(
        self, model: SpikingModel, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None,
        active: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Adversarial version of ``x`` (detached, same shape) against ``model``'s gradients.

        ``active`` (``[B]`` bool) attacks only those rows; the others come back unchanged. The
        starting points are drawn for the whole batch and then selected, so an active row ends
        where it ends when the whole batch is attacked with the same generator, as long as a
        sample's gradient does not depend on the rest of its batch (every estimator but ``pdsg``,
        whose σ pools the batch, and ``random``, which draws at every step) and the model draws no
        random numbers of its own. "Where" is up to float rounding: the subset runs as a smaller
        batch, and torch's CPU kernels may round a sample's gradient differently in a batch of
        another size (measured on a tiny vgg5: one sample alone, for every estimator, and any
        subset under ``rga``, about 1e-7 relative). The reliable suite relies on this
        (:mod:`snnsec.evaluation.reliable`).
        """
        if self.te > 1 and not model.encoder.time_extensible:
            from snnsec.encoders import ENCODERS

            able = " or ".join(sorted(n for n, c in ENCODERS.items() if c.time_extensible))
            raise InputError(f"time extension needs a {able} encoder; the {model.encoder.name} encoder has a "
                             f"fixed number of steps (te=1 expected, got {self.te})")
        model.check_input(x)
        ball = self.threat
        ball.check_clean(x)
        x = x.detach()
        if active is not None:
            if active.dtype != torch.bool or active.shape != x.shape[:1]:
                raise InputError(f"active must be a bool mask of shape {tuple(x.shape[:1])}, "
                                 f"got {active.dtype} of shape {tuple(active.shape)}")
            full, full_start = x, self.optimizer.init(x, ball, generator)[0]
            if not bool(active.any()):
                return full.clone()
            x, y = x[active], y[active]
        with model.timesteps(model.T * self.te), self.estimator.applied(model):
            if active is None:
                x_adv, state = self.optimizer.init(x, ball, generator)
            else:  # an optimizer's state depends on its input only; its draws were made above
                x_adv, state = full_start[active], self.optimizer.init(x, ball, torch.Generator(device=x.device))[1]
            x_adv = ball.project(x_adv, x)
            for _ in range(self.optimizer.n_steps):
                losses, grad = self.gradient(model, x_adv, y, generator)
                if losses is None:
                    x_adv, state = self.optimizer.step(x_adv, grad, state, ball)
                else:
                    x_adv, state = self.optimizer.step(x_adv, grad, state, ball, losses=losses)  # type: ignore[call-arg]
                x_adv = ball.project(x_adv, x).detach()
        if active is not None:
            out = full.clone()
            out[active] = x_adv
            return out
        return x_adv

    def gradient(self, model: SpikingModel, x: torch.Tensor, y: torch.Tensor,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor | None, torch.Tensor]:
        """``(per-sample losses or None, input gradient)``, each averaged over ``eot`` draws of
        any random part (EOT: a Poisson encoder draws new spikes on every call). Losses are
        computed only for optimizers that use them."""
        total_loss: torch.Tensor | None = None
        total_grad: torch.Tensor | None = None
        for _ in range(self.eot):
            if self.optimizer.uses_losses:
                losses, grad = self.estimator.loss_and_gradient(model, x, y, self.loss, generator)
                total_loss = losses if total_loss is None else total_loss + losses
            else:
                grad = self.estimator.gradient(model, x, y, self.loss, generator)
            total_grad = grad if total_grad is None else total_grad + grad
        assert total_grad is not None  # eot >= 1
        if self.eot == 1:
            return total_loss, total_grad
        return (None if total_loss is None else total_loss / self.eot), total_grad / self.eot


CORE_FIELDS = ("attack", "eps", "loss", "te", "eot")
"""What every attack has; everything else in a spec is an estimator or optimizer option."""


class AttackSpec:
    """An attack as the user wrote it; JSON data, stored in adversarial files.

    ``eps`` and fraction options such as ``alpha`` keep their spelling (``"8/255"``). Every other
    keyword is an option of the attack's gradient estimator or optimizer, declared once as a
    dataclass field on that class (see :mod:`snnsec.utils.options`); ``None`` keeps its default.
    An option name that both have must be qualified (``assg.beta1`` or ``sapgd.beta1``); an
    option that neither has is refused by :meth:`build` in one line.

    Args:
        attack: ``<gradient>-<optimizer>``, see :func:`attack_names`.
        eps: L-inf budget, a number or fraction.
        loss: a key of :data:`snnsec.attacks.losses.LOSSES`.
        te: time-extension factor K (craft with K·T steps).
        eot: expectation over transformation: average each gradient over K encoder draws.
        options: estimator and optimizer options (``alpha``, ``steps``, ``beta``, ...).
    """

    def __init__(self, attack: str, eps: str | float, loss: str = "ce", te: int = 1, eot: int = 1,
                 **options: Any) -> None:
        self.attack = attack
        self.eps = str(eps)
        self.loss = loss
        self.te = te
        self.eot = eot
        self.options = {k: (str(v) if _is_fraction_text(v) else v) for k, v in options.items() if v is not None}

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in sorted(self.options.items()))
        return f"AttackSpec({self.attack!r}, eps={self.eps!r}, loss={self.loss!r}, te={self.te}, eot={self.eot}{opts})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AttackSpec) and self.to_dict() == other.to_dict()

    def __getattr__(self, name: str) -> Any:  # spec.alpha, spec.steps, ... (None when unset)
        if name.startswith("_") or name == "options":
            raise AttributeError(name)
        return self.options.get(name)

    def resolve(self) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
        """``(gradient, optimizer, gradient options, optimizer options)``; refuses unknown or
        ambiguous options in one line."""
        gradient, optimizer = split_attack_name(self.attack)
        g_fields, o_fields = option_fields(GRADIENTS[gradient]), option_fields(OPTIMIZERS[optimizer])
        g_opts: dict[str, Any] = {}
        o_opts: dict[str, Any] = {}
        for key, value in self.options.items():
            owner, _, name = key.rpartition(".")
            in_g = name in g_fields and owner in ("", gradient)
            in_o = name in o_fields and owner in ("", optimizer)
            if in_g and in_o:
                raise InputError(f"option {name!r} belongs to both gradient {gradient!r} and optimizer {optimizer!r}; "
                                 f"write {gradient}.{name} or {optimizer}.{name}")
            if not (in_g or in_o):
                valid = sorted({*g_fields, *o_fields})
                raise unknown_option(f"attack {self.attack!r}", key, valid)
            (g_opts if in_g else o_opts)[name] = value
        return gradient, optimizer, g_opts, o_opts

    def build(self, domain: tuple[float, float] = (0.0, 1.0)) -> Attack:
        gradient, optimizer, g_opts, o_opts = self.resolve()
        for what, value in (("time extension factor", self.te), ("EOT draw count", self.eot)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{what} must be a positive integer, got {value!r}")
        eps = parse_fraction(self.eps, "eps")
        return Attack(
            estimator=build_estimator(gradient, **g_opts),
            optimizer=build_optimizer(optimizer, **o_opts),
            threat=LinfBall(eps, *domain),
            loss=get_loss(self.loss),
            te=int(self.te),
            eot=int(self.eot),
        )

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON data: the core fields and every option that was set."""
        return {"attack": self.attack, "eps": self.eps, "loss": self.loss, "te": self.te, "eot": self.eot,
                **dict(sorted(self.options.items()))}

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
    def from_dict(cls, data: Any) -> "AttackSpec":
        """Read :meth:`to_dict` data (also older files, whose unset options are ``None``); options
        the attack does not have are refused like everywhere else."""
        if not isinstance(data, dict) or not isinstance(data.get("attack"), str) or "eps" not in data:
            raise InputError(f"attack spec must be a mapping with 'attack' and 'eps', got {data!r}"[:300])
        core = {k: data[k] for k in CORE_FIELDS if k in data and data[k] is not None}
        spec = cls(**core, **{k: v for k, v in data.items() if k not in CORE_FIELDS})
        spec.resolve()
        return spec


def _is_fraction_text(value: Any) -> bool:
    return isinstance(value, str) and "/" in value
