r"""Sparse attacks on event data: an L0 threat model on event frames and the SDA attack.

**Threat model** (:class:`L0Events`). The attacker changes at most ``budget`` entries of each
sample's event frames ``[T, C, H, W]`` (an entry is one time bin, polarity and pixel), and every
change is a *flip*: an entry below the middle of the domain becomes an event (inserted, set to
``high``), an entry at or above it loses its event (set to ``low``). On binary frames this is
exactly adding or deleting events; frames stay in their domain, and binary frames stay binary.

**SDA** (:class:`SparseDifferentialAttack`; Lun et al., CVPR 2025, "Towards Effective and Sparse
Adversarial Attack on Spiking Neural Networks via Breaking Invisible Surrogate Gradients", public
code ``ryime/PDSG-SDA``, ``SDA`` in ``utils/attack.py``). Per sample, repeated:

1. take the input gradient of the margin :math:`\max_{j\ne y} z_j - z_y` (PDSG gradients by
   default); keep the entries whose flip :math:`\Delta` raises it to first order,
   :math:`g\,\Delta > 0` (entries with no gradient get a tiny random score so that they can still
   be picked), and not yet flipped;
2. take the :math:`k = n\,k_0` best of them at iteration :math:`n` and measure each flip's real
   effect with a forward pass per candidate (finite differences, batched);
3. keep every flip whose difference was non-negative, drop those that hurt; stop once the sample
   is misclassified.

A reduction phase then undoes, by binary search, the largest set of the least useful flips that
leaves the sample misclassified. Unlike the reference, the number of flips never exceeds the
budget: when more flips qualify, those with the largest differences are kept.

Example::

    >>> sda = SparseDifferentialAttack(budget=200)
    >>> x_adv = sda(model, frames, labels, generator=torch.Generator().manual_seed(0))
    >>> bool((sda.threat.changes(x_adv, frames) <= 200).all())
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from snnsec.attacks.gradients import GradientEstimator, build_estimator
from snnsec.attacks.losses import margin
from snnsec.attacks.threat import input_domain
from snnsec.errors import InputError
from snnsec.models.base import SpikingModel


@dataclass(frozen=True)
class L0Events:
    """At most ``budget`` flipped entries per sample, inside the domain ``[low, high]``."""

    budget: int
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if int(self.budget) != self.budget or self.budget < 0:
            raise InputError(f"the L0 budget must be a non-negative whole number of events, got {self.budget}")
        if not self.low < self.high:
            raise InputError(f"input domain must have low < high, got [{self.low}, {self.high}]")

    def flipped(self, x: torch.Tensor) -> torch.Tensor:
        """Every entry flipped: an event where there was none, none where there was one."""
        mid = (self.low + self.high) / 2
        return torch.where(x < mid, torch.full_like(x, self.high), torch.full_like(x, self.low))

    def changes(self, x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Number of changed entries per sample, ``[B]``."""
        return (x_adv != x).flatten(1).sum(1)

    def project(self, x_adv: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Keep the ``budget`` largest changes of each sample, as flips; revert the rest."""
        delta = (x_adv - x).flatten(1).abs()
        keep = torch.zeros_like(delta, dtype=torch.bool)
        k = min(int(self.budget), delta.shape[1])
        if k > 0:
            top = delta.topk(k, dim=1)
            keep.scatter_(1, top.indices, top.values > 0)
        keep = keep.view_as(x)
        return torch.where(keep, self.flipped(x), x)

    def check_clean(self, x: torch.Tensor) -> None:
        lo, hi = float(x.min()), float(x.max())
        if lo < self.low - 1e-6 or hi > self.high + 1e-6:
            raise InputError(f"clean frames must lie in the input domain [{self.low}, {self.high}], got values in [{lo:.4g}, {hi:.4g}]")


@dataclass
class SparseDifferentialAttack:
    """SDA under the :class:`L0Events` threat model; see the module docstring.

    Args:
        budget: most flipped entries per sample.
        gradient: estimator for step 1 (the reference uses PDSG).
        k_init: candidates per iteration grow as ``n * k_init``.
        iterations: generation rounds N (reference: 500; each costs one gradient and k forwards).
        chunk: candidate forwards per batch.
        reduce: run the reduction phase.
    """

    budget: int = field(default=100, metadata={"help": "sda: most flipped event entries per sample (L0 budget)"})
    gradient: str = field(default="pdsg", metadata={"help": "sda: gradient estimator that ranks candidate flips"})
    k_init: int = field(default=10, metadata={"help": "sda: candidates at iteration n are n * k_init (reference: 10)"})
    iterations: int = field(default=50, metadata={"help": "sda: generation rounds (reference: 500)"})
    chunk: int = field(default=64, metadata={"help": "sda: candidate forwards per batch (reference batch_limit: 64)"})
    reduce: bool = field(default=True, metadata={"help": "sda: undo unneeded flips by binary search once fooled"})

    def __post_init__(self) -> None:
        L0Events(self.budget)  # validates the budget
        for key in ("k_init", "iterations", "chunk"):
            if getattr(self, key) < 1:
                raise InputError(f"sda {key} must be a positive integer, got {getattr(self, key)}")
        self.estimator: GradientEstimator = build_estimator(self.gradient)

    def threat_for(self, model: SpikingModel) -> L0Events:
        return L0Events(self.budget, *input_domain(model))

    def __call__(
        self, model: SpikingModel, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Sparse adversarial frames ``[B, T, C, H, W]`` (detached) within the L0 budget."""
        model.check_input(x)
        threat = self.threat_for(model)
        threat.check_clean(x)
        x = x.detach()
        with self.estimator.applied(model):
            out = [self._one(model, threat, x[i : i + 1], y[i : i + 1], generator) for i in range(x.shape[0])]
        return torch.cat(out)

    # -- one sample --------------------------------------------------------------------------------
    def _margin(self, model: SpikingModel, batch: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            logits = torch.cat([model(batch[i : i + self.chunk]) for i in range(0, batch.shape[0], self.chunk)])
        true = logits.gather(1, y.expand(logits.shape[0])[:, None]).squeeze(1)
        others = logits.scatter(1, y.expand(logits.shape[0])[:, None], float("-inf")).amax(1)
        return others - true  # > 0 once misclassified

    def _one(self, model: SpikingModel, threat: L0Events, x: torch.Tensor, y: torch.Tensor,
             generator: torch.Generator | None) -> torch.Tensor:
        flip = threat.flipped(x).flatten()
        delta = flip - x.flatten()
        selected = torch.zeros_like(delta, dtype=torch.bool)
        gain = torch.full_like(delta, float("-inf"))  # measured margin change of each accepted flip

        def build(mask: torch.Tensor) -> torch.Tensor:
            return torch.where(mask, flip, x.flatten()).view_as(x)

        adv, current = x, self._margin(model, x, y)[0]
        for n in range(1, self.iterations + 1):
            if current > 0:  # misclassified
                break
            grad = self.estimator.gradient(model, adv, y, margin, generator).flatten()
            score = (grad * delta).clamp_min(0.0)
            zero = score == 0
            if zero.any():  # no first-order information: a tiny random score keeps them eligible
                floor = float(score[~zero].min()) if (~zero).any() else 1.0
                noise = torch.rand(score.shape, generator=generator, dtype=score.dtype, device=score.device)
                score = torch.where(zero, noise * floor * 1e-3, score)
            score[selected] = -1.0
            k = min(n * self.k_init, int((~selected).sum()))
            if k <= 0 or threat.budget == 0:
                break
            candidates = score.topk(k).indices
            trials = adv.flatten().expand(k, -1).clone()
            trials[torch.arange(k, device=trials.device), candidates] = flip[candidates]
            fd = self._margin(model, trials.view(k, *x.shape[1:]), y) - current
            gain[candidates] = fd
            selected |= gain >= 0
            if int(selected.sum()) > threat.budget:  # keep the best flips within the budget
                keep = torch.where(selected, gain, torch.full_like(gain, float("-inf"))).topk(int(threat.budget)).indices
                selected = torch.zeros_like(selected)
                selected[keep] = True
            adv = build(selected)
            current = self._margin(model, adv, y)[0]
        if current > 0 and self.reduce and selected.any():
            adv = self._reduced(model, y, selected, gain, build)
        return adv

    def _reduced(self, model: SpikingModel, y: torch.Tensor, selected: torch.Tensor, gain: torch.Tensor,
                 build: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """Undo the largest prefix of the least useful flips that keeps the sample misclassified."""
        order = selected.nonzero().squeeze(1)
        order = order[gain[order].abs().argsort()]
        best, lo, hi = build(selected), 0, order.numel() - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            trial = selected.clone()
            trial[order[: mid + 1]] = False
            candidate = build(trial)
            if bool(self._margin(model, candidate, y)[0] > 0):
                best, lo = candidate, mid + 1
            else:
                hi = mid - 1
        return best
