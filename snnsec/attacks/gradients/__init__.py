"""Gradient estimators: what the backward pass of a spiking model is during an attack.

One file per estimator; each registers itself in :data:`GRADIENTS` when imported below.
"""

from snnsec.attacks.gradients import random_sign, rga, rga_naive, stbp  # noqa: F401  (registers)
from snnsec.attacks.gradients import act, assg, bptr, hart, pdsg  # noqa: F401  (registers)
from snnsec.attacks.gradients.base import (
    GRADIENTS,
    GradientEstimator,
    Loss,
    build_estimator,
    overriding,
    register_gradient,
)
from snnsec.attacks.gradients.rga import RGA
from snnsec.attacks.gradients.rga_naive import NaiveRGA
from snnsec.attacks.gradients.random_sign import RandomSign
from snnsec.attacks.gradients.stbp import STBP

__all__ = [
    "GRADIENTS",
    "RGA",
    "STBP",
    "GradientEstimator",
    "Loss",
    "NaiveRGA",
    "RandomSign",
    "build_estimator",
    "overriding",
    "register_gradient",
]
