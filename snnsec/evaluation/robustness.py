"""Robustness evaluation with one entry point returning a report (RobustBench style).

Predictions come from a :class:`Predictor`, anything with ``predict(x) -> labels``; the PyTorch
model is one (:class:`ModelPredictor`), and a simulator or hardware backend can be another
without changing the report. The report stores ε exactly as the attack was written (``"8/255"``).

Definitions (as in the paper's code):

- clean accuracy: share of all samples classified correctly;
- robust accuracy: share of all samples still classified correctly after the attack;
- ASR (attack success rate): share of the *clean-correct* samples that the attack makes
  misclassified. Undefined (``None`` in JSON) when no sample is clean-correct.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from snnsec.data.adversarial import AdversarialSet
from snnsec.models.base import SpikingModel
from snnsec.utils.metrics import attack_success_rate


class Predictor(Protocol):
    """Anything that labels a batch of inputs ``[N, *sample_shape]`` -> ``[N]`` class ids."""

    def predict(self, x: torch.Tensor) -> torch.Tensor: ...


@dataclass
class ModelPredictor:
    """Predictions of an snnsec model in PyTorch, batched, without gradients.

    ``seed`` fixes the global RNG while predicting, so models with a Poisson encoder give the
    same labels on every run.
    """

    model: SpikingModel
    batch_size: int = 256
    seed: int = 0

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.predict(x, self.batch_size, self.seed)


def _share(num: int, den: int) -> float:
    return num / den if den else math.nan


def robustness_report(
    predictor: Predictor, adv: AdversarialSet, class_names: list[str] | None = None
) -> dict[str, Any]:
    """Clean accuracy, robust accuracy and ASR of ``predictor`` on ``adv``, overall and per class."""
    return report_from_labels(predictor.predict(adv.x), predictor.predict(adv.x_adv), adv, class_names)


def report_from_labels(
    clean_labels: torch.Tensor, adv_labels: torch.Tensor, adv: AdversarialSet, class_names: list[str] | None = None
) -> dict[str, Any]:
    """:func:`robustness_report` from predicted labels ``[N]`` of ``adv.x`` and ``adv.x_adv``
    (computed elsewhere, e.g. batch by batch across torchrun ranks)."""
    clean = clean_labels.cpu() == adv.y
    robust = adv_labels.cpu() == adv.y
    report = _figures(clean, robust)
    per_class = []
    for c in sorted(int(v) for v in adv.y.unique()):
        mask = adv.y == c
        row = {"class": c}
        if class_names is not None and c < len(class_names):
            row["name"] = class_names[c]
        per_class.append({**row, **_figures(clean[mask], robust[mask])})
    attack = adv.meta.get("attack", {})
    return {
        **report,
        "eps": adv.meta.get("eps"),
        "attack": attack.get("attack") if isinstance(attack, dict) else attack,
        "te": attack.get("te") if isinstance(attack, dict) else None,
        "black_box": adv.meta.get("black_box"),
        "per_class": per_class,
        "config": adv.meta,
    }


def _figures(clean: torch.Tensor, robust: torch.Tensor) -> dict[str, Any]:
    n = int(clean.numel())
    n_clean = int(clean.sum())
    fooled = int((clean & ~robust).sum())
    return {
        "n": n,
        "clean_accuracy": _share(n_clean, n),
        "robust_accuracy": _share(int(robust.sum()), n),
        "asr": attack_success_rate(clean, robust),
        "clean_correct": n_clean,
        "fooled": fooled,
    }
