"""The gradient-estimator interface and its registry.

An estimator decides what the backward pass of a spiking model *is*: the forward pass of an SNN
is piecewise constant in its input (spikes are thresholded), so every attack needs a surrogate.
An estimator is used in two steps:

1. :meth:`GradientEstimator.applied` is a context manager over the model: eval mode, parameters
   frozen (``requires_grad=False``), any neuron overrides it needs. Everything it changes is
   restored on exit, exceptions included.
2. :meth:`GradientEstimator.logits` returns time-averaged logits ``[B, classes]`` whose autograd
   graph is the estimator's backward, so the input gradient is plain autograd of any loss
   (:meth:`GradientEstimator.gradient`). This is what lets torchattacks drive an snnsec model.

A new estimator is one file in this package with a ``@register_gradient`` dataclass, plus one
import line in ``__init__.py``; attack names and the tests pick it up from :data:`GRADIENTS`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeVar

import torch

from snnsec.errors import InputError, unknown_choice
from snnsec.utils.options import build_options
from snnsec.models.base import SpikingModel
from snnsec.neurons import overriding  # noqa: F401  (estimators import it from here)

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``loss(logits [B, classes], labels [B]) -> scalar`` to be *maximised* by the attack."""


class GradientEstimator:
    """Base class: the plain forward, no overrides. Subclasses are dataclasses of their options.

    Attributes:
        name: registry name, what precedes the last ``-`` of an attack name (``rga`` in ``rga-pgd``).
        summary: one line for ``--help``.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    differentiable: ClassVar[bool] = True
    """False for baselines whose :meth:`logits` carry no autograd graph (they override
    :meth:`gradient` directly), so peers such as torchattacks cannot drive them."""

    def config(self) -> dict[str, Any]:
        """The estimator's name and options, as stored in adversarial-file metadata."""
        options = dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}
        return {"name": self.name, **options}

    @contextlib.contextmanager
    def applied(self, model: SpikingModel) -> Iterator[SpikingModel]:
        """Put ``model`` in attack mode for the duration of the context.

        Eval mode, every parameter's ``requires_grad`` off (the attack differentiates the input
        only, which also keeps the autograd graph small), no neuron overrides other than what
        :meth:`_install` and :meth:`logits` set.
        On exit, training mode, ``requires_grad`` flags and every neuron's ``override`` are
        restored, also when the body raises.
        """
        was_training = model.training
        flags = [(p, p.requires_grad) for p in model.parameters()]
        overrides = [(n, n.override) for n in model.neurons()]
        try:
            model.eval()
            for p, _ in flags:
                p.requires_grad_(False)
            for n, _ in overrides:
                n.override = None  # the estimator alone decides what the neurons do
            with self._install(model):
                yield model
        finally:
            for n, old in overrides:
                n.override = old
            for p, flag in flags:
                p.requires_grad_(flag)
            model.train(was_training)

    def _install(self, model: SpikingModel) -> contextlib.AbstractContextManager[Any]:
        """Model changes that last the whole context (none by default)."""
        return contextlib.nullcontext()

    def logits(self, model: SpikingModel, x: torch.Tensor) -> torch.Tensor:
        """Time-averaged logits ``[B, classes]`` whose backward is this estimator's gradient."""
        raise NotImplementedError

    def gradient(
        self,
        model: SpikingModel,
        x: torch.Tensor,
        y: torch.Tensor,
        loss: Loss,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """:math:`\\nabla_x \\mathcal{L}(f(x), y)` under this estimator, shaped like ``x``.

        Call it inside :meth:`applied`. ``generator`` feeds estimators that draw random numbers.
        """
        x = x.detach().requires_grad_(True)
        value = loss(self.logits(model, x), y)
        (grad,) = torch.autograd.grad(value, x)
        return grad

    def loss_and_gradient(
        self,
        model: SpikingModel,
        x: torch.Tensor,
        y: torch.Tensor,
        loss: Loss,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each sample's loss ``[B]`` (losses are sums over the batch) and the gradient of their
        sum, from one forward: what optimizers that track the best point need."""
        if not self.differentiable:
            with torch.no_grad():
                logits = model(x)
            return _per_sample(loss, logits, y), self.gradient(model, x, y, loss, generator)
        x = x.detach().requires_grad_(True)
        values = _per_sample(loss, self.logits(model, x), y)
        (grad,) = torch.autograd.grad(values.sum(), x)
        return values.detach(), grad


def _per_sample(loss: Loss, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.stack([loss(logits[i : i + 1], y[i : i + 1]) for i in range(logits.shape[0])])


E = TypeVar("E", bound=type[GradientEstimator])

GRADIENTS: dict[str, type[GradientEstimator]] = {}


def register_gradient(cls: E) -> E:
    """Class decorator: make an estimator available under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a non-empty name")
    GRADIENTS[cls.name] = cls
    return cls


def build_estimator(name: str, **options: Any) -> GradientEstimator:
    """Build a registered estimator; ``None`` options keep the estimator's defaults.

    Options the estimator does not have are an error only when they are set (not ``None``).
    """
    if name not in GRADIENTS:
        raise unknown_choice("gradient estimator", name, GRADIENTS)
    return build_options(GRADIENTS[name], f"gradient estimator {name!r}", options)  # type: ignore[no-any-return]
