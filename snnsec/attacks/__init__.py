"""Adversarial attacks on spiking models: gradient estimator x optimizer x threat model x loss.

- :mod:`~snnsec.attacks.gradients`: STBP, RGA (rate domain) and its per-step form, the 2022-2025
  estimators (BPTR, HART, PDSG, ASSG, the ANN twin ACT) and a random baseline (:data:`GRADIENTS`).
- :mod:`~snnsec.attacks.optimizers`: FGSM, PGD, BIM, MI-FGSM, R+FGSM, APGD, SA-PGD and a Gaussian
  noise baseline (:data:`OPTIMIZERS`).
- :mod:`~snnsec.attacks.threat`: the L-inf ball inside the input domain.
- :mod:`~snnsec.attacks.losses`: cross-entropy, margin and DLR.
- :mod:`~snnsec.attacks.attack`: the one attack loop and attack names such as ``rga-pgd``.
- :mod:`~snnsec.attacks.craft`: batched, seeded, resumable crafting over a dataset.
- :mod:`~snnsec.attacks.torchattacks_adapter`: run torchattacks with STBP or RGA gradients.
"""

from snnsec.attacks.attack import Attack, AttackSpec, attack_names, split_attack_name
from snnsec.attacks.gradients import GRADIENTS, GradientEstimator, build_estimator
from snnsec.attacks.losses import LOSSES
from snnsec.attacks.optimizers import OPTIMIZERS, Optimizer, build_optimizer
from snnsec.data.adversarial import AdversarialSet, load_adversarial, save_adversarial
from snnsec.attacks.threat import LinfBall, input_domain

__all__ = [
    "GRADIENTS",
    "LOSSES",
    "OPTIMIZERS",
    "AdversarialSet",
    "Attack",
    "AttackSpec",
    "GradientEstimator",
    "LinfBall",
    "Optimizer",
    "attack_names",
    "build_estimator",
    "build_optimizer",
    "input_domain",
    "load_adversarial",
    "save_adversarial",
    "split_attack_name",
]
