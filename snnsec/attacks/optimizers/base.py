"""The optimizer interface (one update rule per file) and its registry.

An optimizer turns input gradients into a sequence of points; the threat model projects each
point back into the ε-ball (:mod:`snnsec.attacks.threat`), and the loop in
:mod:`snnsec.attacks.attack` calls both. Optimizer state (momentum) is returned, never hidden,
so one optimizer object can serve any number of batches.

A new optimizer is one file in this package with a ``@register_optimizer`` dataclass plus one
import line in ``__init__.py``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, TypeVar

import torch

from snnsec.attacks.threat import LinfBall
from snnsec.errors import InputError, unknown_choice
from snnsec.utils.options import build_options

OptState = Any


class Optimizer:
    """Base class of the update rules; subclasses are dataclasses of their options.

    Attributes:
        name: registry name, what follows the last ``-`` of an attack name (``pgd`` in ``rga-pgd``).
        summary: one line for ``--help``.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    uses_losses: ClassVar[bool] = False
    """True for rules that also need each sample's loss: :meth:`step` then gets ``losses=[B]``."""

    @property
    def n_steps(self) -> int:
        """Number of gradient evaluations."""
        return int(getattr(self, "steps", 1))

    def init(self, x: torch.Tensor, ball: LinfBall, generator: torch.Generator | None) -> tuple[torch.Tensor, OptState]:
        """Starting point (before projection) and initial state; the clean input by default."""
        return x.clone(), None

    def step(self, x_adv: torch.Tensor, grad: torch.Tensor, state: OptState, ball: LinfBall) -> tuple[torch.Tensor, OptState]:
        """Next point (before projection) from the gradient of the loss at ``x_adv``."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        return {"name": self.name, **dataclasses.asdict(self)} if dataclasses.is_dataclass(self) else {"name": self.name}

    def step_size(self, alpha: float | None, ball: LinfBall) -> float:
        """``alpha`` or, when unset, ε/4 (the paper's 2/255 at ε = 8/255, §5.3)."""
        return ball.eps / 4.0 if alpha is None else alpha


def check_steps(name: str, steps: int, alpha: float | None) -> None:
    if steps < 1:
        raise InputError(f"{name} needs at least one step, got steps={steps}")
    if alpha is not None and not alpha > 0:
        raise InputError(f"{name} needs a positive step size alpha, got {alpha}")


O = TypeVar("O", bound=type[Optimizer])

OPTIMIZERS: dict[str, type[Optimizer]] = {}


def register_optimizer(cls: O) -> O:
    """Class decorator: make an optimizer available under ``cls.name`` (no ``-`` allowed)."""
    if not cls.name or "-" in cls.name:
        raise ValueError(f"optimizer names must be non-empty and contain no '-', got {cls.name!r}")
    OPTIMIZERS[cls.name] = cls
    return cls


def build_optimizer(name: str, **options: Any) -> Optimizer:
    """Build a registered optimizer; ``None`` options keep its defaults, others must exist."""
    if name not in OPTIMIZERS:
        raise unknown_choice("optimizer", name, OPTIMIZERS)
    return build_options(OPTIMIZERS[name], f"optimizer {name!r}", options)  # type: ignore[no-any-return]
