"""The fused training time loop (snnsec/neurons/fused.py) equals the per-step neuron: the same
spikes and potentials bit for bit, and the same gradients up to float rounding."""

from __future__ import annotations

import pytest
import torch

from snnsec.neurons import LIF, NEURONS, SURROGATES, NeuronModel, NeuronParameters, NeuronState, register_neuron
from snnsec.neurons.functional import initial_state


def per_step(layer: LIF, x: torch.Tensor, u0: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    state = NeuronState(u0) if u0 is not None else initial_state(x[0])
    out = []
    for t in range(x.shape[0]):
        z, state = layer.neuron.step(x[t], state)
        out.append(z)
    return torch.stack(out), state.u


@pytest.mark.parametrize("reset", sorted(NEURONS))
@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("leak", [1.0, 0.5])
@pytest.mark.parametrize("gamma", [1.0, 0.5])
@pytest.mark.parametrize("with_state", [False, True])
def test_fused_equals_per_step(reset: str, surrogate: str, leak: float, gamma: float, with_state: bool) -> None:
    gen = torch.Generator().manual_seed(3)
    layer = LIF(NeuronParameters(leak=leak, theta=1.0, reset=reset, gamma=gamma, surrogate=surrogate)).train()
    x = (torch.rand(8, 64, 5, generator=gen, dtype=torch.float64) * 1.6 - 0.3)
    x[2, :4] = 1.0  # u reaches theta exactly: H(0) = 1
    u0 = torch.rand(64, 5, generator=gen, dtype=torch.float64) * 0.5 if with_state else None
    gz = torch.randn(8, 64, 5, generator=gen, dtype=torch.float64)
    gv = torch.randn(64, 5, generator=gen, dtype=torch.float64)

    results = []
    for fused in (True, False):
        xi = x.clone().requires_grad_(True)
        ui = u0.clone().requires_grad_(True) if u0 is not None else None
        if fused:
            z, state = layer(xi, NeuronState(ui) if ui is not None else None)
            v = state.u
        else:
            z, v = per_step(layer, xi, ui)
        torch.autograd.backward([z, v], [gz, gv])
        results.append((z.detach(), v.detach(), xi.grad, ui.grad if ui is not None else None))
    (zf, vf, gxf, guf), (zp, vp, gxp, gup) = results
    assert zf.sum() > 50 and (zf == 0).sum() > 50
    assert torch.equal(zf, zp) and torch.equal(vf, vp)  # forward: bit-identical
    torch.testing.assert_close(gxf, gxp, rtol=1e-12, atol=1e-12)
    if with_state:
        torch.testing.assert_close(guf, gup, rtol=1e-12, atol=1e-12)
    assert gxf.abs().sum() > 0


def test_eval_mode_no_grad_and_neurons_with_their_own_step_keep_the_per_step_loop() -> None:
    from snnsec.neurons import fused

    x = torch.rand(4, 3, requires_grad=True)
    assert fused.integrate(LIF(NeuronParameters()).eval(), x, None) is None
    with torch.no_grad():
        assert fused.integrate(LIF(NeuronParameters()).train(), x, None) is None
    assert fused.integrate(LIF(NeuronParameters(surrogate="super")).train(), x, None) is not None

    class OwnStep(NeuronModel):  # a type that redefines the whole step is not second-guessed
        name = "own-step-test"

        def step(self, current, state):  # type: ignore[no-untyped-def]
            return (current > 0).to(current.dtype), NeuronState(state.u)

    register_neuron(OwnStep)
    try:
        assert fused.integrate(LIF(NeuronParameters(reset="own-step-test")).train(), x, None) is None
    finally:
        NEURONS.pop("own-step-test")


def _autograd_partials(fn, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    ga, gb = torch.autograd.grad(fn(a, b).sum(), (a, b), allow_unused=True)
    return (ga if ga is not None else torch.zeros_like(a)), (gb if gb is not None else torch.zeros_like(b))


@pytest.mark.parametrize("reset", sorted(NEURONS))
@pytest.mark.parametrize("leak", [1.0, 0.5])
def test_closed_form_partials_equal_autograd_of_the_step_functions(reset: str, leak: float) -> None:
    """The fused backward takes charge/reset partials from the neuron's closed forms: they must be
    what autograd finds through the same functions, at spikes and at rest."""
    gen = torch.Generator().manual_seed(5)
    neuron = LIF(NeuronParameters(leak=leak, theta=0.75, reset=reset)).neuron
    u = torch.rand(6, 40, generator=gen, dtype=torch.float64) * 2 - 0.5
    z = (u >= 0.75).to(u.dtype)
    v = torch.rand(6, 40, generator=gen, dtype=torch.float64)
    for fn, a, b in (("reset", u, z), ("charge", v, u)):
        got = neuron.partials(fn, a, b)
        want = _autograd_partials(getattr(neuron, fn), a, b)
        for g, w in zip(got, want):
            torch.testing.assert_close(torch.as_tensor(g, dtype=w.dtype).expand_as(w), w, rtol=1e-12, atol=1e-12)


def _assert_fused_gradient_is_per_steps(layer: LIF, x: torch.Tensor) -> None:
    """The input gradient of a weighted sum of ``layer``'s spikes: fused loop = per-step loop, and nonzero."""
    grads = []
    for fused in (True, False):
        xi = x.clone().requires_grad_(True)
        z_out = layer(xi, None)[0] if fused else per_step(layer, xi, None)[0]
        (z_out * torch.arange(z_out.numel(), dtype=z_out.dtype, device=z_out.device).view_as(z_out)).sum().backward()
        grads.append(xi.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=1e-12)
    assert grads[0].abs().sum() > 0


def test_a_subclass_that_overrides_reset_alone_gets_autograd_partials_not_its_parents() -> None:
    """HardReset's closed form (1 - z, -u) is wrong for a reset to 0.25: the neuron must not
    inherit it, and the fused loop must still equal the per-step one."""
    from snnsec.neurons.hard_reset import HardReset

    class ResetToQuarter(HardReset):
        name = "quarter-test"

        def reset(self, u, z):  # type: ignore[no-untyped-def]
            return u * (1 - z) + 0.25 * z

    register_neuron(ResetToQuarter)
    try:
        layer = LIF(NeuronParameters(reset="quarter-test", leak=0.5)).train()
        u = torch.linspace(-1, 2, 30, dtype=torch.float64)
        z = (u >= 1).to(u.dtype)
        r_u, r_z = layer.neuron.partials("reset", u, z)
        torch.testing.assert_close(r_z, 0.25 - u)  # not the parent's -u
        torch.testing.assert_close(r_u, 1 - z)
        gen = torch.Generator().manual_seed(4)
        x = torch.rand(8, 16, 3, generator=gen, dtype=torch.float64) * 1.6 - 0.3
        _assert_fused_gradient_is_per_steps(layer, x)
    finally:
        NEURONS.pop("quarter-test")


def test_a_subclass_that_overrides_fire_alone_gets_autograds_slope_not_its_parents() -> None:
    """A neuron that fires when 2u reaches theta has twice the surrogate slope at 2u - theta:
    the base class's closed form (the slope at u - theta) must not be used for it."""
    from snnsec.neurons.functional import spike_slope
    from snnsec.neurons.hard_reset import HardReset

    class FiresAtHalf(HardReset):
        name = "half-test"

        def fire(self, u):  # type: ignore[no-untyped-def]
            return HardReset.fire(self, 2 * u)

    register_neuron(FiresAtHalf)
    try:
        layer = LIF(NeuronParameters(reset="half-test", gamma=0.5)).train()
        u = torch.linspace(-1, 2, 61, dtype=torch.float64)
        (s,) = layer.neuron.partials("fire", u)
        torch.testing.assert_close(s, 2 * spike_slope(2 * u - 1.0, layer.neuron.p))
        assert not torch.allclose(s, spike_slope(u - 1.0, layer.neuron.p))
        gen = torch.Generator().manual_seed(5)
        x = torch.rand(6, 16, 3, generator=gen, dtype=torch.float64) * 0.8
        _assert_fused_gradient_is_per_steps(layer, x)
    finally:
        NEURONS.pop("half-test")


@pytest.mark.parametrize("leak", [1, 0.5])
def test_an_integer_leak_trains_through_the_fused_loop_like_its_float(leak) -> None:  # type: ignore[no-untyped-def]
    """NeuronParameters keeps ``leak=1`` an int; its constant partial must still be a number."""
    grads = []
    for value in (leak, float(leak)):
        layer = LIF(NeuronParameters(leak=value, theta=0.5)).train()
        x = torch.linspace(0, 1, 4 * 6, dtype=torch.float64).view(4, 6).requires_grad_(True)
        layer(x, None)[0].sum().backward()
        grads.append(x.grad)
    assert torch.equal(grads[0], grads[1]) and grads[0].abs().sum() > 0
