"""The robustness report: accuracy, robust accuracy and ASR as the paper's code defines them."""

from __future__ import annotations

import math

import pytest
import torch

from snnsec.data.adversarial import AdversarialSet
from snnsec.evaluation.robustness import robustness_report


class LookupPredictor:
    """Predicts from a table keyed by the first pixel (a stand-in for any backend)."""

    def __init__(self, table: dict[float, int]) -> None:
        self.table = table
        self.calls = 0

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return torch.tensor([self.table[round(float(v), 3)] for v in x[:, 0]])


def test_report_defines_asr_over_clean_correct_samples() -> None:
    # 5 samples: labels 0,0,1,1,1. Clean predictions: right, right, right, wrong, right.
    x = torch.tensor([[0.1], [0.2], [0.3], [0.4], [0.5]])
    x_adv = x + 0.5
    y = torch.tensor([0, 0, 1, 1, 1])
    table = {0.1: 0, 0.2: 0, 0.3: 1, 0.4: 0, 0.5: 1,  # clean
             0.6: 1, 0.7: 0, 0.8: 1, 0.9: 1, 1.0: 0}  # adversarial: fools 0.1 and 0.5; 0.4 recovers
    adv = AdversarialSet(x, x_adv, y, torch.arange(5), {"eps": "8/255", "attack": {"attack": "rga-pgd", "te": 1}})
    predictor = LookupPredictor(table)
    r = robustness_report(predictor, adv, class_names=["zero", "one"])
    assert predictor.calls == 2
    assert r["n"] == 5 and r["eps"] == "8/255" and r["attack"] == "rga-pgd"
    assert r["clean_accuracy"] == pytest.approx(4 / 5)
    assert r["robust_accuracy"] == pytest.approx(3 / 5)  # the recovered sample counts as robust
    assert r["asr"] == pytest.approx(2 / 4)  # but not as a clean-correct one that survived
    per = {row["name"]: row for row in r["per_class"]}
    assert per["zero"]["n"] == 2 and per["zero"]["asr"] == pytest.approx(1 / 2)
    assert per["one"]["clean_accuracy"] == pytest.approx(2 / 3) and per["one"]["asr"] == pytest.approx(1 / 2)


def test_asr_is_undefined_without_clean_correct_samples() -> None:
    x = torch.tensor([[0.1]])
    adv = AdversarialSet(x, x + 0.5, torch.tensor([1]), torch.arange(1), {})
    r = robustness_report(LookupPredictor({0.1: 0, 0.6: 0}), adv)
    assert r["clean_accuracy"] == 0.0 and math.isnan(r["asr"])
