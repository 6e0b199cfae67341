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
