"""APGD, SA-PGD, R+FGSM, Gaussian noise and the DLR loss."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from snnsec.attacks import OPTIMIZERS, Attack, LinfBall, build_estimator, build_optimizer
from snnsec.attacks.losses import LOSSES, cross_entropy, dlr, margin
from snnsec.attacks.optimizers.apgd import Schedule
from snnsec.errors import InputError

NEW = ("apgd", "gn", "rfgsm", "sapgd")


def per_sample(loss, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
    return torch.stack([loss(logits[i : i + 1], y[i : i + 1]) for i in range(len(y))])


def test_dlr_is_the_papers_ratio_and_scale_invariant() -> None:
    logits = torch.tensor([[4.0, 3.0, 1.0, 0.0], [1.0, 5.0, 2.0, 0.0]])
    y = torch.tensor([0, 0])
    # sample 0: -(4 - 3) / (4 - 1); sample 1: -(1 - 5) / (5 - 1)
    assert float(dlr(logits, y)) == pytest.approx(-1 / 3 + 1.0)
    assert float(dlr(3 * logits + 7, y)) == pytest.approx(float(dlr(logits, y)))
    assert per_sample(dlr, logits, y).tolist() == pytest.approx([-1 / 3, 1.0])
    for loss in LOSSES.values():
        assert float(per_sample(loss, logits, y).sum()) == pytest.approx(float(loss(logits, y)))
    assert LOSSES["dlr"] is dlr
    est, lg = build_estimator("stbp"), torch.nn.Identity()
    losses, _ = est.loss_and_gradient(lg, logits, y, dlr)  # what the attack loop gives apgd
    assert losses.tolist() == pytest.approx([-1 / 3, 1.0])
    with pytest.raises(InputError, match="dlr loss needs at least 3 classes"):
        dlr(torch.zeros(2, 2), torch.tensor([0, 1]))


def test_checkpoints_follow_autoattack() -> None:
    sched, marks = Schedule(100), []
    for k in range(1, 100):
        if sched.tick():
            marks.append(k)
    assert marks == [22, 41, 57, 70, 80, 87, 93, 99]


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 4 * self.net(x)


def _drive(opt, model, x, y, loss, ball, seed):  # type: ignore[no-untyped-def]
    """The one attack loop (snnsec.attacks.Attack) on a plain differentiable module."""
    attack = Attack(build_estimator("stbp"), opt, ball, loss)  # stbp's logits are model(x)
    x_adv, state = opt.init(x, ball, torch.Generator().manual_seed(seed))
    x_adv = ball.project(x_adv, x)
    for _ in range(opt.n_steps):
        losses, g = attack.gradient(model, x_adv, y)
        x_adv, state = opt.step(x_adv, g, state, ball, losses=losses)
        x_adv = ball.project(x_adv, x).detach()
    return x_adv


@pytest.mark.parametrize("loss_name", ["ce", "dlr"])
def test_apgd_follows_torchattacks_apgd_step_for_step(loss_name: str) -> None:
    import torchattacks

    model = Tiny().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    eps, n = 0.1, 20
    ref = torchattacks.APGD(model, eps=eps, steps=n, loss=loss_name, seed=0)
    torch.manual_seed(0)
    ref_best, _, ref_loss, _ = ref.attack_single_run(x, y)
    # torchattacks counts updates (n) after a first gradient; snnsec counts gradients (n + 1)
    ours = _drive(build_optimizer("apgd", steps=n + 1), model, x, y, LOSSES[loss_name], LinfBall(eps), seed=0)
    assert torch.allclose(ours, ref_best, atol=1e-5)
    assert per_sample(LOSSES[loss_name], model(ours), y) == pytest.approx(ref_loss, rel=1e-3)


def test_apgd_without_losses_still_climbs_and_stays_in_the_ball() -> None:
    model = Tiny().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    ball = LinfBall(0.1)
    loss0 = float(margin(model(x), y))
    for name in ("apgd", "sapgd"):
        opt = build_optimizer(name, steps=10)
        x_adv, state = opt.init(x, ball, torch.Generator().manual_seed(0))
        x_adv = ball.project(x_adv, x)
        for _ in range(opt.n_steps):
            xr = x_adv.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(margin(model(xr), y), xr)
            x_adv, state = opt.step(x_adv, g, state, ball)  # no losses: the fixed schedule
            x_adv = ball.project(x_adv, x)
        assert float((x_adv - x).abs().max()) <= 0.1 + 1e-7
        assert float(margin(model(x_adv), y)) > loss0 + 1.0, name


def test_sapgd_first_step_is_the_clipped_normalised_moment_ratio() -> None:
    opt = build_optimizer("sapgd", steps=5, random_start=False)
    ball = LinfBall(0.5)
    x = torch.zeros(1, 4)
    x0, state = opt.init(x, ball, None)
    g = torch.tensor([[2.0, -1.0, 0.0, 1.0]])
    x1, state = opt.step(x0, g, state, ball)
    # m = g / mean|g| = g; v = g^2 / mean g^2 = g^2 / 1.5; m / sqrt(v) = sign(g) * sqrt(1.5), clipped to eta = eps
    assert torch.allclose(x1, torch.tensor([[0.5, -0.5, 0.0, 0.5]]))


def test_rfgsm_takes_a_random_step_then_eps_minus_alpha() -> None:
    opt = build_optimizer("rfgsm")
    ball = LinfBall(0.2)
    x = torch.full((2, 50), 0.5)
    x0, state = opt.init(x, ball, torch.Generator().manual_seed(0))
    assert torch.allclose((x0 - x).abs(), torch.full_like(x, 0.1))
    x1, _ = opt.step(x0, torch.ones_like(x), state, ball)
    assert torch.allclose(x1 - x0, torch.full_like(x, 0.1))
    with pytest.raises(InputError, match="rfgsm alpha must not exceed eps"):
        build_optimizer("rfgsm", alpha=0.3).init(x, ball, None)


def test_gaussian_noise_never_asks_for_a_gradient() -> None:
    opt = build_optimizer("gn", steps=4)
    assert opt.n_steps == 0
    ball = LinfBall(0.1)
    x = torch.full((2, 1000), 0.5)
    x_adv, _ = opt.init(x, ball, torch.Generator().manual_seed(0))
    delta = (x_adv - x).abs()
    assert float(delta.max()) <= 0.1 + 1e-7 and float(delta.mean()) > 0.03


def test_every_option_is_a_documented_field_and_bad_values_are_refused() -> None:
    for name in NEW:
        assert name in OPTIMIZERS
        for f in dataclasses.fields(OPTIMIZERS[name]):
            assert f.metadata.get("help"), (name, f.name)
    with pytest.raises(InputError, match="apgd momentum"):
        build_optimizer("apgd", momentum=0.0)
    with pytest.raises(InputError, match="sapgd beta1"):
        build_optimizer("sapgd", beta1=1.0)
    with pytest.raises(InputError, match="gn std"):
        build_optimizer("gn", std=-1.0)
    with pytest.raises(InputError, match="at least one step"):
        build_optimizer("apgd", steps=0)


def test_apgd_and_sapgd_run_in_the_attack_loop_on_an_snn(demo_model, mnist_test) -> None:  # type: ignore[no-untyped-def]
    from .helpers import batch

    x, y = batch(mnist_test, 8)
    for name in ("apgd", "sapgd"):
        attack = Attack(build_estimator("rga"), build_optimizer(name, steps=3), LinfBall(0.1), cross_entropy)
        x_adv = attack(demo_model, x, y, torch.Generator().manual_seed(0))
        assert float((x_adv.double() - x.double()).abs().max()) <= 0.1
