"""Optimizers: update rules that turn input gradients into adversarial points.

One file per rule; each registers itself in :data:`OPTIMIZERS` when imported below.
"""

from snnsec.attacks.optimizers import bim, fgsm, mifgsm, pgd  # noqa: F401  (registers)
from snnsec.attacks.optimizers import apgd, gn, rfgsm, sapgd  # noqa: F401  (registers)
from snnsec.attacks.optimizers.base import OPTIMIZERS, OptState, Optimizer, build_optimizer, register_optimizer
from snnsec.attacks.optimizers.bim import BIM
from snnsec.attacks.optimizers.fgsm import FGSM
from snnsec.attacks.optimizers.mifgsm import MIFGSM
from snnsec.attacks.optimizers.pgd import PGD

__all__ = ["BIM", "FGSM", "MIFGSM", "OPTIMIZERS", "PGD", "OptState", "Optimizer", "build_optimizer", "register_optimizer"]
