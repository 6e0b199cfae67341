"""HART, BPTR, PDSG, ASSG and ACT against plain re-implementations of their papers' formulas.

Each reference below is written the naive way, as in the authors' code: a per-step Python loop
with autograd (hooks, antiderivatives of the surrogates, a module-replaced ANN copy), sharing no
code with the estimators. The comparison runs on full-size VGG-11 and ResNet-17 whose neurons
fire (thresholds tuned by ``make_active``), and a deliberately wrong parameter must fail it.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from snnsec.attacks.gradients import GRADIENTS, build_estimator, overriding
from snnsec.attacks.losses import cross_entropy
from snnsec.errors import InputError
from snnsec.models import build_model
from snnsec.neurons import LIF, NeuronParameters, NeuronState, RateRecorder, SpikingModule

from .helpers import make_active

pytestmark = pytest.mark.cost(8)  # rough CPU seconds under the suite: orders the xdist schedule

NEW = ("act", "assg", "bptr", "hart", "pdsg")


# -- naive references ----------------------------------------------------------------------------
def _reset(p: NeuronParameters, u: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return u * (1 - z) if p.reset == "hard" else u - p.theta * z


def _fire(x: torch.Tensor, antiderivative: torch.Tensor) -> torch.Tensor:
    """Heaviside forward (fires at 0), derivative of ``antiderivative`` backward."""
    return (x >= 0).to(x.dtype) + antiderivative - antiderivative.detach()


def hart_reference(gamma: float):  # type: ignore[no-untyped-def]
    """The reference's ``avg`` mode: GradAvg on the input, mem.detach(), triangle ZIF."""

    def tri_antiderivative(x: torch.Tensor) -> torch.Tensor:  # integral of (1/g^2) max(0, g - |x|)
        c = x.clamp(-gamma, gamma)
        return (gamma * c - c * c.abs() / 2) / gamma**2

    def layer(lif: LIF, x: torch.Tensor, state):  # type: ignore[no-untyped-def]
        if x.requires_grad:
            x.register_hook(lambda g: g.mean(0, keepdim=True).expand_as(g))
        p, u, out = lif.p, torch.zeros_like(x[0]), []
        for t in range(x.shape[0]):
            u = p.leak * u.detach() + x[t]
            z = _fire(u - p.theta, tri_antiderivative(u - p.theta))
            out.append(z)
            u = _reset(p, u, z)
        return torch.stack(out), NeuronState(u)

    return layer


def bptr_reference(gated: bool = True):  # type: ignore[no-untyped-def]
    """SNN-RAT's RateBp: real spikes, backward grad * (rate > 0) at every step."""

    def layer(lif: LIF, x: torch.Tensor, state):  # type: ignore[no-untyped-def]
        with torch.no_grad():
            z, state = lif.integrate(x.detach(), None)
            gate = (z.mean(0, keepdim=True) > 0).float() if gated else torch.ones_like(z[:1])
        return z + gate * (x - x.detach()), state

    return layer


def pdsg_reference(shift: float = 0.5):  # type: ignore[no-untyped-def]
    """PDSG_LIFNode: torch.std over the stacked potentials so far; Gaussian CDF as antiderivative."""

    def layer(lif: LIF, x: torch.Tensor, state):  # type: ignore[no-untyped-def]
        p, u, out, history = lif.p, torch.zeros_like(x[0]), [], []
        for t in range(x.shape[0]):
            u = p.leak * u + x[t]
            history.append(u.detach())
            v = torch.stack(history)
            dims = (0, 1, 3, 4) if v.dim() == 5 else (0, 1)
            with torch.no_grad():
                sigma = v.std(dim=dims, keepdim=True).squeeze(0)
                sigma = torch.where((sigma == 0) | sigma.isnan(), torch.ones_like(sigma), sigma)
            cdf = 0.5 * (1 + torch.erf((u - p.theta - shift * sigma) / (math.sqrt(2) * sigma)))
            z = _fire(u - p.theta, cdf)
            out.append(z)
            u = _reset(p, u, z)
        return torch.stack(out), NeuronState(u)

    return layer


class AssgReference:
    """ASSGrad: EMAs of |u - theta| per (layer, step), atan antiderivative, reset detached."""

    def __init__(self, vanish: float = 0.425, relax: float = 1.5, b1: float = 0.9, b2: float = 0.9):
        self.a, self.relax, self.b1, self.b2 = 2 * math.tan(vanish * math.pi) / math.pi, relax, b1, b2
        self.M: dict = {}
        self.D: dict = {}

    def __call__(self, lif: LIF, x: torch.Tensor, state):  # type: ignore[no-untyped-def]
        p, u, out = lif.p, torch.zeros_like(x[0]), []
        for t in range(x.shape[0]):
            u = p.leak * u + x[t]
            k, a = (id(lif), t), (u - p.theta).detach().abs()
            self.M[k] = self.b1 * self.M.get(k, 1.0) + (1 - self.b1) * a
            self.D[k] = self.b2 * self.D.get(k, 0.0) + (1 - self.b2) * (a - self.M[k]).abs()
            alpha = self.a / (self.M[k] + self.relax * self.D[k] + 0.0001)
            z = _fire(u - p.theta, torch.atan(math.pi / 2 * alpha * (u - p.theta)) / math.pi)
            out.append(z)
            u = _reset(p, u, z.detach())
        return torch.stack(out), NeuronState(u)


class _Floor(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):  # type: ignore[no-untyped-def,override]
        return x.floor()

    @staticmethod
    def backward(ctx, g):  # type: ignore[no-untyped-def,override]
        return g


class QCFS(SpikingModule):
    """The HART code's ``qcfs`` (clamp, floor(x L + 0.5) / L with a straight-through floor), at theta."""

    def __init__(self, theta: float, levels: int) -> None:
        super().__init__()
        self.theta, self.levels = theta, levels

    def forward(self, x, state=None):  # type: ignore[no-untyped-def,override]
        v = torch.clamp(x / self.theta, 0, 1)
        return self.theta * _Floor.apply(v * self.levels + 0.5) / self.levels, {}


def ann_twin(model, levels: int):  # type: ignore[no-untyped-def]
    twin = copy.deepcopy(model)

    def swap(module):  # type: ignore[no-untyped-def]
        for name, child in module.named_children():
            if isinstance(child, LIF):
                setattr(module, name, QCFS(child.p.theta, levels))
            else:
                swap(child)

    swap(twin.body)
    return twin


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=[("vgg11", 1.0, "hard", 3), ("resnet17", 0.9, "soft", 4)],
                ids=["vgg11-IF-hard", "resnet17-LIF-soft"])
def firing(request):  # type: ignore[no-untyped-def]
    arch, leak, reset, T = request.param
    torch.manual_seed(0)
    model = build_model(arch, num_classes=10, T=T, neuron=NeuronParameters(leak=leak, reset=reset)).eval()
    x = torch.rand(2, 3, 32, 32)
    make_active(model, x)
    rec = RateRecorder()
    with torch.no_grad(), rec.recording(model):
        model(x)
    rates = [float(r.rate.mean()) for r in rec.layers.values()]
    assert all(0.05 < r < 0.95 for r in rates), rates
    for prm in model.parameters():
        prm.requires_grad_(False)
    return model, x, torch.tensor([3, 7])


def _estimator_grad(model, x, y, name: str, **opts) -> torch.Tensor:  # type: ignore[no-untyped-def]
    est = build_estimator(name, **opts)
    with est.applied(model):
        return est.gradient(model, x, y, cross_entropy).flatten()


def _override_grad(model, x, y, override) -> torch.Tensor:  # type: ignore[no-untyped-def]
    xr = x.clone().requires_grad_(True)
    with overriding(model, override), model.chunked(None):
        loss = cross_entropy(model(xr), y)
    (g,) = torch.autograd.grad(loss, xr)
    return g.flatten()


def _act_grad(model, x, y, levels: int) -> torch.Tensor:  # type: ignore[no-untyped-def]
    twin = ann_twin(model, levels)
    xr = x.clone().requires_grad_(True)
    with torch.no_grad():
        snn = model(x)
    ann = twin.run(twin.encoder.encode_mean(xr))[0][0]
    (g,) = torch.autograd.grad(cross_entropy(snn + ann - ann.detach(), y), xr)
    return g.flatten()


def _agree(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    return float((a.sign() == b.sign()).double().mean()), float(F.cosine_similarity(a, b, dim=0))


def _check(fast: torch.Tensor, naive: torch.Tensor, wrong: torch.Tensor) -> None:
    assert float((fast != 0).double().mean()) > 0.5  # not a comparison between zeros
    sign, cos = _agree(fast, naive)
    assert sign >= 0.999 and cos >= 0.999, (sign, cos)
    assert _agree(fast, wrong)[1] < 0.99  # the comparison has power


# -- the comparisons ---------------------------------------------------------------------------------
def test_hart_equals_the_reference_avg_mode(firing) -> None:  # type: ignore[no-untyped-def]
    model, x, y = firing
    _check(
        _estimator_grad(model, x, y, "hart"),
        _override_grad(model, x, y, hart_reference(1.0)),
        _override_grad(model, x, y, hart_reference(0.3)),
    )


def test_bptr_equals_the_reference_rate_backprop(firing) -> None:  # type: ignore[no-untyped-def]
    model, x, y = firing
    _check(
        _estimator_grad(model, x, y, "bptr"),
        _override_grad(model, x, y, bptr_reference(gated=True)),
        _override_grad(model, x, y, bptr_reference(gated=False)),
    )


def test_pdsg_equals_the_reference_potential_dependent_surrogate(firing) -> None:  # type: ignore[no-untyped-def]
    model, x, y = firing
    _check(
        _estimator_grad(model, x, y, "pdsg"),
        _override_grad(model, x, y, pdsg_reference(0.5)),
        _override_grad(model, x, y, pdsg_reference(0.0)),
    )


def test_assg_equals_the_reference_over_successive_attack_steps(firing) -> None:  # type: ignore[no-untyped-def]
    model, x, y = firing
    x2 = (x + 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    est, ref, wrong = build_estimator("assg"), AssgReference(), AssgReference(vanish=0.2)
    with est.applied(model):
        fast = [est.gradient(model, xi, y, cross_entropy).flatten() for xi in (x, x2, x2)]
    naive = [_override_grad(model, xi, y, ref) for xi in (x, x2)]
    other = [_override_grad(model, xi, y, wrong) for xi in (x, x2)]
    _check(fast[0], naive[0], other[0])
    _check(fast[1], naive[1], other[1])  # the moments carried over from the first step
    assert torch.equal(fast[1], fast[2])  # a repeated point (EOT) does not move the moments


def test_act_equals_a_module_replaced_qcfs_twin(firing) -> None:  # type: ignore[no-untyped-def]
    model, x, y = firing
    _check(_estimator_grad(model, x, y, "act"), _act_grad(model, x, y, 8), _act_grad(model, x, y, 2))


# -- options, values, restoration -----------------------------------------------------------------------
@pytest.mark.parametrize("name", NEW)
def test_new_estimators_keep_the_models_logits_and_restore_it(name: str) -> None:
    torch.manual_seed(1)
    model = build_model("vgg5", num_classes=10, T=3).eval()
    x = torch.rand(3, 1, 28, 28)
    make_active(model, x)
    with torch.no_grad():
        plain = model(x)
    est = build_estimator(name)
    with est.applied(model):
        assert torch.allclose(est.logits(model, x), plain, atol=1e-5)
    assert all(n.override is None for n in model.neurons())
    assert name in GRADIENTS


def test_every_option_is_a_documented_field_and_bad_values_are_refused() -> None:
    import dataclasses

    for name in NEW:
        for f in dataclasses.fields(GRADIENTS[name]):
            assert f.metadata.get("help"), (name, f.name)
    bad = {"hart": {"gamma": 0.0}, "pdsg": {"shift": float("nan")}, "assg": {"vanish": 0.5},
           "act": {"levels": 0}}
    for name, opts in bad.items():
        key = next(iter(opts))
        with pytest.raises(InputError, match=rf"{name}'? (option )?{key}"):
            build_estimator(name, **opts)
    with pytest.raises(InputError, match="'bptr' takes no option gamma"):
        build_estimator("bptr", gamma=1.0)
