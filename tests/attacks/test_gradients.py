"""Gradient estimators: RGA's surrogate (Eq. 15/19), rate domain == per-step form, context safety."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from snnsec.attacks.gradients import GRADIENTS, RGA, STBP, NaiveRGA, build_estimator
from snnsec.neurons import RateRecorder, neuron_model


def rga_slope(current, p, beta=2.0, gamma=0.2):
    return neuron_model(p).rga_slope(current, beta, gamma)


def rga_rate(current, p, beta=2.0, gamma=0.2):
    return neuron_model(p).rga_rate(current, beta, gamma)
from snnsec.attacks.losses import cross_entropy
from snnsec.errors import InputError
from snnsec.models import build_model
from snnsec.neurons import NeuronParameters

from .helpers import make_active


# -- Eq. 15 / 19 ---------------------------------------------------------------------------------
def test_rga_slope_worked_values() -> None:
    current = torch.tensor([-0.1, 0.0, 0.3, 0.5, 0.5001, 1.0, 2.0, 2.0001])
    IF = rga_slope(current, NeuronParameters(leak=1.0))
    assert IF.tolist() == pytest.approx([0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0])
    lif = rga_slope(current, NeuronParameters(leak=0.5))
    # gamma on [0, 0.5], (1 - 0.2 + 0.1) / 1.5 = 0.6 on (0.5, 2]; the knee counted once
    assert lif.tolist() == pytest.approx([0, 0.2, 0.2, 0.2, 0.6, 0.6, 0.6, 0])


def test_rga_slope_uses_theta_beta_gamma() -> None:
    p = NeuronParameters(leak=0.8, theta=2.0)
    current = torch.tensor([0.1, 0.39, 0.41, 5.9, 6.1])
    got = rga_slope(current, p, beta=3.0, gamma=0.1)
    second = (1 - 0.1 * 2 + 0.1 * 2 * 0.8) / ((3 + 0.8 - 1) * 2)
    assert got.tolist() == pytest.approx([0.1, 0.1, second, second, 0.0])


@pytest.mark.parametrize("leak", [1.0, 0.9, 0.5])
def test_rga_slope_is_the_derivative_of_the_relaxed_rate(leak: float) -> None:
    p = NeuronParameters(leak=leak)
    grid = torch.linspace(-0.5, 2.5, 301, dtype=torch.float64)
    keep = [(g - k).abs() > 1e-3 for k in (0.0, (1 - leak), 2.0) for g in [grid]]
    mask = keep[0] & keep[1] & keep[2]
    h = 1e-6
    numeric = (rga_rate(grid + h, p) - rga_rate(grid - h, p)) / (2 * h)
    assert torch.allclose(numeric[mask], rga_slope(grid, p)[mask], atol=1e-6)
    assert float(rga_rate(torch.tensor(2.0, dtype=torch.float64), p)) == pytest.approx(1.0)


# -- rate domain == naive per-step RGA -------------------------------------------------------------
@pytest.mark.parametrize("arch,leak", [("vgg11", 1.0), ("resnet17", 0.9)])
def test_rate_domain_rga_equals_per_step_rga(arch: str, leak: float) -> None:
    torch.manual_seed(0)
    model = build_model(arch, num_classes=10, T=4, neuron=NeuronParameters(leak=leak)).eval()
    x = torch.rand(2, 3, 32, 32)
    make_active(model, x)
    rec = RateRecorder()
    with torch.no_grad(), rec.recording(model):
        model(x)
    rates = [float(r.rate.mean()) for r in rec.layers.values()]
    assert len(rates) == len(model.neurons()) and all(0.05 < r < 0.95 for r in rates), rates
    y = torch.tensor([3, 7])

    def grad(est):  # type: ignore[no-untyped-def]
        with est.applied(model):
            return est.gradient(model, x, y, cross_entropy).flatten()

    fast, naive = grad(RGA(time_chunk=1)), grad(NaiveRGA())
    assert float((fast != 0).double().mean()) > 0.5  # the comparison is not between zeros
    assert float((fast.sign() == naive.sign()).double().mean()) >= 0.999
    assert float(F.cosine_similarity(fast, naive, dim=0)) >= 0.999
    # the comparison has power: a different surrogate, or STBP, is far from it
    other = grad(NaiveRGA(beta=4.0))
    assert float(F.cosine_similarity(fast, other, dim=0)) < 0.99
    stbp = grad(STBP())
    assert float(F.cosine_similarity(fast, stbp, dim=0)) < 0.99


def test_rga_logits_are_the_models_logits_and_chunking_changes_nothing() -> None:
    torch.manual_seed(1)
    model = build_model("vgg5", num_classes=10, T=6).eval()
    x = torch.rand(3, 1, 28, 28)
    make_active(model, x)
    with torch.no_grad():
        plain = model(x)
    y = torch.tensor([0, 1, 2])
    grads = []
    for chunk in (1, 4, None):
        est = RGA(time_chunk=chunk)
        with est.applied(model):
            assert torch.allclose(est.logits(model, x), plain, atol=1e-5)
            grads.append(est.gradient(model, x, y, cross_entropy))
    assert torch.allclose(grads[0], grads[1], atol=1e-6) and torch.allclose(grads[0], grads[2], atol=1e-6)


def test_rga_refuses_layers_that_do_not_commute_with_time_average() -> None:
    model = build_model("vgg5", num_classes=10, T=2).eval()
    model.body.insert(1, torch.nn.ReLU())
    with pytest.raises(InputError, match="ReLU.*rga-naive"):
        RGA().logits(model, torch.rand(1, 1, 28, 28))


def test_stbp_is_plain_autograd_of_the_model() -> None:
    torch.manual_seed(2)
    model = build_model("vgg5", num_classes=10, T=3).eval()
    x = torch.rand(2, 1, 28, 28)
    make_active(model, x)
    y = torch.tensor([4, 5])
    xr = x.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(cross_entropy(model(xr), y), xr)
    est = STBP()
    with est.applied(model):
        assert torch.equal(est.gradient(model, x, y, cross_entropy), expected)


# -- the context: attack mode inside, everything restored afterwards ---------------------------------
class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("name", sorted(GRADIENTS))
def test_estimator_context_restores_the_model_after_an_exception(name: str) -> None:
    model = build_model("vgg5", num_classes=10, T=2)
    model.train()
    sentinel = object()
    model.neurons()[1].override = sentinel  # type: ignore[assignment]
    model.body[0].weight.requires_grad_(False)
    before = [p.requires_grad for p in model.parameters()]
    est = build_estimator(name)

    def failing_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # the exception is raised in the middle of the estimator's own work
        raise Boom("loss failed")

    with pytest.raises(Boom):
        with est.applied(model):
            assert not model.training and not any(p.requires_grad for p in model.parameters())
            est.gradient(model, torch.rand(2, 1, 28, 28), torch.tensor([0, 1]), failing_loss)
            if not est.differentiable:
                raise Boom("baseline never calls the loss")
    assert model.training
    assert [p.requires_grad for p in model.parameters()] == before
    assert model.neurons()[1].override is sentinel
    assert all(n.override is None for i, n in enumerate(model.neurons()) if i != 1)


def test_rga_restores_overrides_when_the_model_raises_mid_forward() -> None:
    model = build_model("vgg5", num_classes=10, T=2).eval()

    def broken(x, state):  # type: ignore[no-untyped-def]
        raise Boom("neuron failed")

    last = model.neurons()[-1]
    last.integrate = broken  # type: ignore[method-assign]
    est = RGA()
    with pytest.raises(Boom), est.applied(model):
        est.logits(model, torch.rand(1, 1, 28, 28))
    assert all(n.override is None for n in model.neurons())


def test_estimator_options_are_checked() -> None:
    with pytest.raises(InputError, match="takes no option beta"):
        build_estimator("stbp", beta=2.0)
    with pytest.raises(InputError, match="beta must be at least 1"):
        build_estimator("rga", beta=0.5)
    with pytest.raises(InputError, match="unknown gradient estimator 'rgb'; choose one of: .*rga"):
        build_estimator("rgb")
