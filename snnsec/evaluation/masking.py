r"""Gradient-masking checks: signs that an attack's robust accuracy overstates the model's robustness.

Athalye, Carlini & Wagner (ICML 2018) and Carlini et al. (2019, "On Evaluating Adversarial
Robustness", §5) list symptoms of gradients that hide the way to adversarial examples. Thresholds
make the step a spiking model's thresholds can hide (all-zero surrogate gradients) show up, and
each check names what it saw:

1. **large ε:** robust accuracy should approach 0 once ε spans the input domain (any input can
   then be replaced); above ``large_eps_floor`` at the largest ε, the attack is not finding
   what exists.
2. **not monotone:** robust accuracy should not rise with ε (more than ``tolerance``).
3. **single step beats iterative:** FGSM leaves fewer samples robust than PGD from the same
   gradients.
4. **transfer beats white box:** examples crafted on a substitute fool the target more often
   than its own gradients do.
5. **noise beats gradients:** Gaussian noise of the same ε fools more than the gradient attack.
6. **zero gradients:** a high share of the input gradient's entries is exactly zero.

:func:`masking_warnings` turns measured figures into warnings; :func:`measure_masking` runs the
small set of attacks that produces them (gradients from one estimator, PGD with
``steps`` steps, FGSM, Gaussian noise, an ε sweep up to the domain's width, and optionally a
transfer from a substitute model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from snnsec.attacks.attack import Attack
from snnsec.attacks.gradients import build_estimator
from snnsec.attacks.losses import get_loss
from snnsec.attacks.optimizers import build_optimizer
from snnsec.attacks.threat import LinfBall, input_domain
from snnsec.models.base import SpikingModel
from snnsec.utils.seeding import seeded_generator


@dataclass
class MaskingFigures:
    """Robust accuracies (fractions of all samples) that the checks compare.

    Attributes:
        eps: the ε of the evaluation. sweep: ``{ε: robust accuracy}`` including large ε.
        pgd, fgsm, noise: robust accuracy under each at ``eps``. transfer: from a substitute, if run.
        zero_gradient_share: share of exactly-zero entries of the input gradient at the clean inputs.
        domain_width: ``high - low`` of the input domain.
    """

    eps: float
    sweep: dict[float, float]
    pgd: float
    fgsm: float
    noise: float
    zero_gradient_share: float
    domain_width: float = 1.0
    transfer: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "eps": self.eps, "sweep": {repr(k): v for k, v in self.sweep.items()}, "pgd": self.pgd,
            "fgsm": self.fgsm, "noise": self.noise, "transfer": self.transfer,
            "zero_gradient_share": self.zero_gradient_share,
        }


@dataclass(frozen=True)
class MaskingThresholds:
    """When a check fires. ``tolerance`` absorbs sampling noise between two robust accuracies."""

    tolerance: float = field(default=0.05, metadata={"help": "allowed difference between two robust accuracies"})
    large_eps_floor: float = field(default=0.1, metadata={"help": "robust accuracy allowed at the largest eps"})
    zero_share: float = field(default=0.5, metadata={"help": "share of exactly-zero gradient entries that warns"})


def masking_warnings(f: MaskingFigures, t: MaskingThresholds = MaskingThresholds()) -> list[str]:
    """One line per check that fires; an empty list when none does."""
    out: list[str] = []
    if f.sweep:
        largest = max(f.sweep)
        if largest >= f.domain_width and f.sweep[largest] > t.large_eps_floor:
            out.append(f"large eps: robust accuracy stays {100 * f.sweep[largest]:.1f}% at eps={largest:g} "
                       f"(the whole input domain); the attack does not find what exists")
        eps_sorted = sorted(f.sweep)
        for lo, hi in zip(eps_sorted, eps_sorted[1:]):
            if f.sweep[hi] > f.sweep[lo] + t.tolerance:
                out.append(f"not monotone: robust accuracy rises from {100 * f.sweep[lo]:.1f}% at eps={lo:g} "
                           f"to {100 * f.sweep[hi]:.1f}% at eps={hi:g}")
    if f.fgsm < f.pgd - t.tolerance:
        out.append(f"single step beats iterative: FGSM leaves {100 * f.fgsm:.1f}% robust, PGD {100 * f.pgd:.1f}%")
    if f.transfer is not None and f.transfer < f.pgd - t.tolerance:
        out.append(f"transfer beats white box: a substitute's examples leave {100 * f.transfer:.1f}% robust, "
                   f"the model's own gradients {100 * f.pgd:.1f}%")
    if f.noise < f.pgd - t.tolerance:
        out.append(f"noise beats gradients: Gaussian noise leaves {100 * f.noise:.1f}% robust, PGD {100 * f.pgd:.1f}%")
    if f.zero_gradient_share > t.zero_share:
        out.append(f"zero gradients: {100 * f.zero_gradient_share:.1f}% of the input gradient's entries are exactly 0")
    return out


def _robust(model: SpikingModel, x: torch.Tensor, y: torch.Tensor, x_adv: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x_adv).argmax(1) == y).double().mean())


def measure_masking(
    model: SpikingModel,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    *,
    gradient: str = "stbp",
    steps: int = 10,
    substitute: SpikingModel | None = None,
    seed: int = 0,
) -> MaskingFigures:
    """Run the attacks behind :func:`masking_warnings` on one batch (keep it small: tens of samples).

    The ε sweep is ``eps/2, eps, 2 eps, 4 eps`` and the domain's width, each a PGD of ``steps``
    steps of size ``max(e/4, 2.5 e/steps)`` (so every point of the ball is reachable); ``pgd`` is
    the sweep's value at ``eps``. Gaussian noise has standard deviation ε.
    """
    low, high = input_domain(model)
    width = high - low
    ce = get_loss("ce")

    def run(opt: str, e: float, source: SpikingModel, **opts: Any) -> float:
        attack = Attack(build_estimator(gradient), build_optimizer(opt, **opts), LinfBall(e, low, high), ce)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            x_adv = attack(source, x, y, seeded_generator(seed, x.device))
        return _robust(model, x, y, x_adv)

    def pgd(e: float, source: SpikingModel = model) -> float:
        return run("pgd", e, source, steps=steps, alpha=max(e / 4, 2.5 * e / steps))

    sweep = {e: pgd(e) for e in sorted({eps / 2, eps, 2 * eps, 4 * eps, width}) if e <= width}
    est = build_estimator(gradient)
    with est.applied(model):
        grad = est.gradient(model, x, y, ce)
    return MaskingFigures(
        eps=eps,
        sweep=sweep,
        pgd=sweep[eps],
        fgsm=run("fgsm", eps, model),
        noise=run("gn", eps, model),
        zero_gradient_share=float((grad == 0).double().mean()),
        domain_width=width,
        transfer=pgd(eps, substitute) if substitute is not None else None,
    )
