"""Run any torchattacks attack on an snnsec model, with STBP or RGA gradients.

torchattacks calls ``model(x)`` and differentiates the loss with autograd. Wrapping the snnsec
model in :class:`EstimatorModel` makes that call return a gradient estimator's logits
(:meth:`GradientEstimator.logits`), whose autograd graph *is* the estimator's backward, so a
torchattacks PGD on the wrapper is PGD with STBP or with RGA gradients. The wrapper is only valid
inside :func:`torchattacks_model`, which puts the model in attack mode and restores it afterwards.

torchattacks assumes inputs in [0, 1], which is snnsec's input domain for images and frames.

Example::

    >>> import torchattacks
    >>> with torchattacks_model(model, "rga") as wrapped:
    ...     x_adv = torchattacks.PGD(wrapped, eps=8/255, alpha=2/255, steps=5)(x, y)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from snnsec.attacks.gradients import GradientEstimator, build_estimator
from snnsec.errors import InputError
from snnsec.models.base import SpikingModel


class EstimatorModel(nn.Module):
    """``forward(x [B, ...]) -> logits [B, classes]`` with the estimator's backward."""

    def __init__(self, model: SpikingModel, estimator: GradientEstimator) -> None:
        super().__init__()
        self.model = model
        self.estimator = estimator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.estimator.logits(self.model, x)


@contextlib.contextmanager
def torchattacks_model(
    model: SpikingModel, gradient: str | GradientEstimator = "stbp", **options: Any
) -> Iterator[EstimatorModel]:
    """Yield a torchattacks-ready module for ``model`` with the ``gradient`` estimator.

    Args:
        model: the snnsec model (left as it was on exit, exceptions included).
        gradient: a registered estimator name (``stbp``, ``rga``, ...) or an estimator.
        options: estimator options when ``gradient`` is a name (e.g. ``beta=2.0``).
    """
    estimator = build_estimator(gradient, **options) if isinstance(gradient, str) else gradient
    if not estimator.differentiable:
        raise InputError(f"gradient estimator {estimator.name!r} has no autograd graph for torchattacks to use")
    with estimator.applied(model):
        yield EstimatorModel(model, estimator)
