"""torchattacks drives snnsec models through the adapter, with STBP or RGA gradients."""

from __future__ import annotations

import pytest
import torch
import torchattacks

from snnsec.attacks import AttackSpec
from snnsec.attacks.gradients import RGA
from snnsec.attacks.losses import cross_entropy
from snnsec.attacks.torchattacks_adapter import torchattacks_model
from snnsec.errors import InputError
from snnsec.evaluation.robustness import ModelPredictor

from .helpers import batch


def _asr(model, x, y, x_adv) -> float:  # type: ignore[no-untyped-def]
    predict = ModelPredictor(model).predict
    clean = predict(x) == y
    return float((clean & (predict(x_adv) != y)).sum()) / float(clean.sum())


def test_torchattacks_pgd_matches_stbp_pgd(demo_model, mnist_test) -> None:  # type: ignore[no-untyped-def]
    x, y = batch(mnist_test, 200)
    eps, alpha, steps = 0.15, 0.0375, 5
    with torchattacks_model(demo_model, "stbp") as wrapped:
        theirs = torchattacks.PGD(wrapped, eps=eps, alpha=alpha, steps=steps, random_start=False)(x, y)
    ours = AttackSpec("stbp-pgd", eps=str(eps), alpha=str(alpha), steps=steps, random_start=False).build()(demo_model, x, y)
    asr_theirs, asr_ours = _asr(demo_model, x, y, theirs), _asr(demo_model, x, y, ours)
    assert asr_ours > 0.2  # a real attack, not two zeros
    assert abs(asr_theirs - asr_ours) <= 0.03, (asr_theirs, asr_ours)
    assert float((theirs - x).abs().max()) <= eps + 1e-6


def test_adapter_gives_torchattacks_the_estimators_gradient(demo_model, mnist_test) -> None:  # type: ignore[no-untyped-def]
    x, y = batch(mnist_test, 8)
    est = RGA()
    with est.applied(demo_model):
        expected = est.gradient(demo_model, x, y, cross_entropy)
    with torchattacks_model(demo_model, "rga") as wrapped:
        fgsm = torchattacks.FGSM(wrapped, eps=0.1)(x, y)
    assert torch.equal(fgsm, (x + 0.1 * expected.sign()).clamp(0, 1))


def test_adapter_restores_the_model(demo_model) -> None:  # type: ignore[no-untyped-def]
    demo_model.train()
    with pytest.raises(RuntimeError, match="inside"):
        with torchattacks_model(demo_model, "rga") as wrapped:
            assert not demo_model.training
            raise RuntimeError("failure inside an attack")
    assert demo_model.training and all(p.requires_grad for p in demo_model.parameters())
    with pytest.raises(InputError, match="no autograd graph"):
        with torchattacks_model(demo_model, "random"):
            pass
