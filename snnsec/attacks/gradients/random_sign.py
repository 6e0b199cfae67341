"""A model-blind baseline: uniformly random gradient signs.

With FGSM this is the random-sign perturbation :math:`x + \\epsilon\\,\\sigma`,
:math:`\\sigma \\in \\{-1, 1\\}^n` uniform, that any real attack at the same ε must beat. It uses
no information about the model, so it measures how much the budget alone hurts accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from snnsec.attacks.gradients.base import GradientEstimator, Loss, register_gradient
from snnsec.models.base import SpikingModel


@register_gradient
@dataclass
class RandomSign(GradientEstimator):
    """Random ±1 "gradients" (baseline); drawn from the attack's generator, so reproducible."""

    name = "random"
    summary = "baseline: uniformly random signs, ignores the model"
    differentiable = False

    def logits(self, model: SpikingModel, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(x)

    def gradient(
        self,
        model: SpikingModel,
        x: torch.Tensor,
        y: torch.Tensor,
        loss: Loss,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        bits = torch.randint(0, 2, x.shape, generator=generator, dtype=torch.int8, device=x.device)
        return (2 * bits - 1).to(x.dtype)
