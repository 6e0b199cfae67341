"""The attack loop: every estimator x optimizer stays in the threat model; stronger attacks win."""

from __future__ import annotations

import pytest
import torch

from snnsec.attacks import GRADIENTS, OPTIMIZERS, AttackSpec, LinfBall, attack_names, split_attack_name
from snnsec.neurons import RateRecorder
from snnsec.attacks.losses import LOSSES, cross_entropy, margin
from snnsec.attacks.optimizers import MIFGSM
from snnsec.errors import InputError
from snnsec.evaluation.robustness import ModelPredictor

from .helpers import batch

pytestmark = pytest.mark.cost(50)  # rough CPU seconds under the suite: orders the xdist schedule

EPS = "0.1"
EPS_VALUE = 0.1


@pytest.fixture(scope="module")
def digits(mnist_test):  # type: ignore[no-untyped-def]
    return batch(mnist_test, 24)


@pytest.fixture(scope="module")
def untrained(digits):  # type: ignore[no-untyped-def]
    """An untrained vgg5 whose thresholds are tuned so every layer fires: the eps-ball and domain
    promises hold for any weights, so no trained model is needed."""
    from snnsec.models import build_model

    from .helpers import make_active

    torch.manual_seed(0)
    model = build_model("vgg5", num_classes=10, input_shape=(1, 28, 28), T=2, width=0.25).eval()
    make_active(model, digits[0])
    return model


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("gradient", sorted(GRADIENTS))
def test_every_attack_stays_in_the_eps_ball_and_the_domain(gradient: str, optimizer: str, untrained, digits) -> None:  # type: ignore[no-untyped-def]
    x, y = digits[0][:8], digits[1][:8]
    has_steps = "steps" in OPTIMIZERS[optimizer].__dataclass_fields__
    spec = AttackSpec(f"{gradient}-{optimizer}", eps=EPS, steps=2 if has_steps else None)
    x_adv = spec.build()(untrained, x, y, torch.Generator().manual_seed(0))
    assert x_adv.shape == x.shape and not x_adv.requires_grad
    delta = (x_adv.double() - x.double()).abs()
    assert float(delta.max()) <= EPS_VALUE  # exactly, despite float32 rounding of x + eps
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    assert float(delta.max()) > 0.05  # it did move: the check above is not about a no-op


def test_attack_names_are_the_product_of_the_registries() -> None:
    names = attack_names()
    assert len(names) == len(GRADIENTS) * len(OPTIMIZERS)
    for required in ("stbp-fgsm", "stbp-pgd", "stbp-bim", "stbp-mifgsm", "rga-fgsm", "rga-pgd", "rga-bim", "rga-mifgsm"):
        assert required in names
    assert split_attack_name("rga-naive-pgd") == ("rga-naive", "pgd")
    with pytest.raises(InputError, match=r"unknown attack 'rga-pdg'; choose one of: .*rga-pgd.*stbp-fgsm"):
        split_attack_name("rga-pdg")


def test_spec_refuses_options_the_attack_does_not_have() -> None:
    with pytest.raises(InputError, match="attack 'rga-fgsm' takes no option alpha; its options: beta, gamma, time_chunk$"):
        AttackSpec("rga-fgsm", eps="8/255", alpha="2/255").build()
    with pytest.raises(InputError, match="attack 'stbp-pgd' takes no option beta; its options: alpha, random_start, steps$"):
        AttackSpec("stbp-pgd", eps="8/255", beta=2.0).build()
    with pytest.raises(InputError, match="'stbp-pgd' takes no option omega"):  # stored specs too
        AttackSpec.from_dict({"attack": "stbp-pgd", "eps": "0.1", "omega": 3})
    with pytest.raises(InputError, match="eps must be a .*number.*'1e400'"):
        AttackSpec("rga-pgd", eps="1e400").build()
    with pytest.raises(InputError, match="eps must be a number or a fraction such as 8/255, got '8//255'"):
        AttackSpec("rga-pgd", eps="8//255").build()
    with pytest.raises(InputError, match="at least one step"):
        AttackSpec("rga-pgd", eps="8/255", steps=0).build()
    spec = AttackSpec("rga-pgd", eps="8/255", alpha="2/255", steps=5)
    described = spec.describe()
    assert described["eps"] == "8/255" and described["eps_value"] == pytest.approx(8 / 255)
    assert described["optimizer"]["alpha"] == pytest.approx(2 / 255) and described["gradient"]["beta"] == 2.0
    assert AttackSpec.from_dict(spec.to_dict()) == spec
    # files written before options moved onto the classes store every option, unset ones as None
    old = {"attack": "rga-pgd", "eps": "8/255", "alpha": "2/255", "steps": 5, "random_start": None,
           "decay": None, "loss": "ce", "te": 1, "beta": None, "gamma": None}
    assert AttackSpec.from_dict(old) == spec


def test_options_shared_by_estimator_and_optimizer_must_be_qualified() -> None:
    from snnsec.attacks.gradients import GRADIENTS
    from snnsec.attacks.optimizers import OPTIMIZERS
    from snnsec.utils.options import option_fields

    pairs = [(g, o, n) for g in GRADIENTS for o in OPTIMIZERS
             for n in set(option_fields(GRADIENTS[g])) & set(option_fields(OPTIMIZERS[o]))]
    if not pairs:
        pytest.skip("no estimator shares an option name with an optimizer")
    g, o, name = pairs[0]
    with pytest.raises(InputError, match=f"belongs to both gradient '{g}' and optimizer '{o}'"):
        AttackSpec(f"{g}-{o}", eps="0.1", **{name: 0.5}).resolve()
    _, _, g_opts, o_opts = AttackSpec(f"{g}-{o}", eps="0.1", **{f"{o}.{name}": 0.5}).resolve()
    assert o_opts == {name: 0.5} and g_opts == {}


def test_linf_ball_projection() -> None:
    ball = LinfBall(0.1)
    x = torch.tensor([0.0, 0.05, 0.5, 0.95, 1.0])
    far = x + torch.tensor([-1.0, 1.0, -0.3, 0.3, 0.02])
    assert torch.allclose(ball.project(far, x), torch.tensor([0.0, 0.15, 0.4, 1.0, 1.0]))
    with pytest.raises(InputError, match=r"input domain \[0.0, 1.0\], got values in \[-0.5"):
        ball.check_clean(torch.tensor([-0.5, 0.3]))
    with pytest.raises(InputError, match="eps must be a non-negative number, got -0.1"):
        LinfBall(-0.1)


def test_losses_increase_when_the_true_logit_drops() -> None:
    logits = torch.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0]])
    y = torch.tensor([0, 1])
    assert float(margin(logits, y)) == pytest.approx((1 - 3) + (1 - 2))
    lower = logits - torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    for loss in LOSSES.values():
        assert float(loss(lower, y)) > float(loss(logits, y))
    assert float(cross_entropy(logits, y)) > 0


def test_mifgsm_accumulates_normalised_momentum() -> None:
    opt = MIFGSM(alpha=0.01, steps=2, decay=1.0)
    ball = LinfBall(1.0)
    x0, m0 = opt.init(torch.zeros(1, 2), ball, None)
    assert torch.equal(m0, torch.zeros(1, 2))
    x1, m1 = opt.step(x0, torch.tensor([[3.0, -1.0]]), m0, ball)
    assert torch.allclose(m1, torch.tensor([[1.5, -0.5]]))  # g / mean|g|
    x2, m2 = opt.step(x1, torch.tensor([[-100.0, 100.0]]), m1, ball)
    assert torch.allclose(m2, torch.tensor([[0.5, 0.5]]))  # one huge opposite step does not flip x
    assert torch.allclose(x2, torch.tensor([[0.02, 0.0]]))


def _asr(model, x, y, x_adv) -> float:  # type: ignore[no-untyped-def]
    predict = ModelPredictor(model).predict
    clean = predict(x) == y
    fooled = clean & (predict(x_adv) != y)
    return float(fooled.sum()) / float(clean.sum())


def test_pgd_beats_fgsm_beats_random_on_the_demo_model(demo_model, mnist_test) -> None:  # type: ignore[no-untyped-def]
    x, y = batch(mnist_test, 200)
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    eps = "0.15"
    asr = {}
    for name in ("random-fgsm", "stbp-fgsm", "rga-fgsm", "stbp-pgd", "rga-pgd"):
        x_adv = AttackSpec(name, eps=eps, steps=5 if "pgd" in name else None).build()(demo_model, x, y, gen())
        asr[name] = _asr(demo_model, x, y, x_adv)
    for g in ("stbp", "rga"):
        assert asr[f"{g}-pgd"] >= asr[f"{g}-fgsm"], asr
        assert asr[f"{g}-fgsm"] > asr["random-fgsm"] + 0.05, asr


def test_time_extension_crafts_with_k_times_T_and_restores_T(demo_model, digits) -> None:  # type: ignore[no-untyped-def]
    x, y = digits
    seen: list[int] = []
    attack = AttackSpec("rga-fgsm", eps=EPS, te=3).build()
    original = attack.estimator.logits

    def spy(model, inp):  # type: ignore[no-untyped-def]
        seen.append(model.T)
        return original(model, inp)

    attack.estimator.logits = spy  # type: ignore[method-assign]
    attack(demo_model, x, y)
    assert seen == [3 * 4] and demo_model.T == 4
    # and the recorded rates really span K*T steps
    rec = RateRecorder()
    with torch.no_grad(), demo_model.timesteps(8), rec.recording(demo_model):
        demo_model(x)
    assert {acc.steps for acc in rec.layers.values()} == {8}


def test_attack_is_reproducible_with_a_seeded_generator(demo_model, digits) -> None:  # type: ignore[no-untyped-def]
    x, y = digits
    attack = AttackSpec("stbp-pgd", eps=EPS, steps=2).build()
    a = attack(demo_model, x, y, torch.Generator().manual_seed(5))
    b = attack(demo_model, x, y, torch.Generator().manual_seed(5))
    c = attack(demo_model, x, y, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_attack_refuses_inputs_outside_the_domain(demo_model, digits) -> None:  # type: ignore[no-untyped-def]
    x, y = digits
    with pytest.raises(InputError, match="input domain"):
        AttackSpec("rga-fgsm", eps=EPS).build()(demo_model, (x - 0.5) / 0.25, y)
    with pytest.raises(InputError, match=r"expected input with shape \[B, 1, 28, 28\]"):
        AttackSpec("rga-fgsm", eps=EPS).build()(demo_model, x[:, :, :20], y)


@pytest.mark.parametrize("gradient", ["stbp", "rga"])
def test_event_frame_models_are_attacked_in_the_frame_domain(gradient: str) -> None:
    from snnsec.models import build_model

    torch.manual_seed(0)
    model = build_model("vggdvs", num_classes=10, input_shape=(6, 2, 48, 48), T=6, encoder="frames", width=0.125).eval()
    x = (torch.rand(2, 6, 2, 48, 48) < 0.1).float() * torch.rand(2, 6, 2, 48, 48)  # sparse frames
    y = torch.tensor([1, 2])
    x_adv = AttackSpec(f"{gradient}-pgd", eps="0.02", steps=2).build()(model, x, y, torch.Generator().manual_seed(0))
    assert float((x_adv - x).abs().max()) <= 0.02 + 1e-6
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    with pytest.raises(InputError, match="time extension needs a direct or poisson encoder"):
        AttackSpec(f"{gradient}-fgsm", eps="0.02", te=2).build()(model, x, y)


def test_poisson_models_get_straight_through_gradients_and_seeded_draws(mnist_test) -> None:
    from snnsec.attacks.craft import craft
    from snnsec.attacks.gradients import RGA
    from snnsec.models import build_model

    torch.manual_seed(0)
    model = build_model("vgg5", num_classes=10, T=8, encoder="poisson").eval()
    x, y = batch(mnist_test, 6)
    est = RGA()
    with est.applied(model):
        grad = est.gradient(model, x, y, cross_entropy)
    assert float(grad.abs().sum()) > 0  # the encoder passes the gradient straight through
    spec = AttackSpec("rga-fgsm", eps="0.1")
    a = craft(model, mnist_test, spec, n=12, batch_size=4, seed=1).adv.x_adv
    b = craft(model, mnist_test, spec, n=12, batch_size=4, seed=1).adv.x_adv
    c = craft(model, mnist_test, spec, n=12, batch_size=4, seed=2).adv.x_adv
    assert torch.equal(a, b) and not torch.equal(a, c)  # draws come from per-batch seeds


def test_projection_is_exact_where_float32_rounding_would_overshoot() -> None:
    from snnsec.attacks.threat import LinfBall

    x = torch.rand(10000, generator=torch.Generator().manual_seed(0)) * 0.6 + 0.2  # the domain never binds
    for eps in (0.1, 0.15, 8 / 255):
        naive = torch.minimum(torch.maximum(x + 1.0, x - eps), x + eps)
        assert ((naive.double() - x.double()).abs() > eps).any()  # the rounding problem is real
        ball = LinfBall(eps)
        for push in (1.0, -1.0):
            x_adv = ball.project(x + push, x)
            assert float((x_adv.double() - x.double()).abs().max()) <= eps
            assert float((x_adv.double() - x.double()).abs().min()) > eps - 1e-7
