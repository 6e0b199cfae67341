"""The neuron equals a plain loop of the paper's Eq. (3)-(6), exactly."""

from __future__ import annotations

import pytest
import torch
from norse.torch.functional.iaf import IAFFeedForwardState, IAFParameters, iaf_feed_forward_step

from snnsec.errors import InputError
from snnsec.neurons import LIF, NeuronParameters, NeuronState, neuron_step
from snnsec.neurons.functional import SURROGATES


def paper_loop(currents: torch.Tensor, leak: float, theta: float, reset: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. (3)-(6) written out with plain Python floats, one neuron at a time."""
    T, N = currents.shape
    spikes = torch.zeros(T, N)
    u_final = torch.zeros(N)
    for n in range(N):
        u = 0.0
        for t in range(T):
            u = leak * u + float(currents[t, n]) if leak != 1.0 else u + float(currents[t, n])
            s = 1.0 if u - theta >= 0 else 0.0
            if s:
                u = 0.0 if reset == "hard" else u - theta
            spikes[t, n] = s
        u_final[n] = u
    return spikes, u_final


@pytest.mark.parametrize("leak", [1.0, 0.9, 0.5])
@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_neuron_matches_paper_equations_exactly(leak: float, reset: str) -> None:
    gen = torch.Generator().manual_seed(int(leak * 10) + (reset == "soft"))
    currents = (torch.rand(40, 300, generator=gen, dtype=torch.float64) * 1.6 - 0.3)
    lif = LIF(NeuronParameters(leak=leak, theta=1.0, reset=reset))
    z, state = lif(currents)
    ref_z, ref_u = paper_loop(currents, leak, 1.0, reset)
    assert z.sum() > 100, "the test must exercise firing"
    assert torch.equal(z.to(torch.float32), ref_z)
    assert torch.allclose(state.u.to(torch.float32), ref_u, atol=0, rtol=0)


def test_fires_when_potential_reaches_threshold_exactly() -> None:
    # 0.25 steps are exact in binary floating point: u hits theta exactly at t = 3.
    currents = torch.full((4, 1), 0.25)
    z, _ = LIF(NeuronParameters(theta=1.0))(currents)
    assert z[:, 0].tolist() == [0.0, 0.0, 0.0, 1.0]


def test_if_neuron_is_norse_iaf_away_from_the_threshold_tie() -> None:
    currents = torch.rand(30, 500, generator=torch.Generator().manual_seed(1)) * 0.7
    ours, _ = LIF(NeuronParameters(leak=1.0, reset="hard"))(currents)
    state = IAFFeedForwardState(v=torch.zeros(500))
    p = IAFParameters(v_th=torch.tensor(1.0), v_reset=torch.tensor(0.0), method="triangle", alpha=1.0)
    norse = []
    for t in range(30):
        z, state = iaf_feed_forward_step(currents[t], state, p)
        norse.append(z)
    assert torch.equal(ours, torch.stack(norse))



@pytest.mark.parametrize(("reset", "norse_reset"), [("hard", "reset_value"), ("soft", "reset_subtract")])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_resets_equal_norses_reset_functions_and_carry_their_gradients(reset: str, norse_reset: str,
                                                                       dtype: torch.dtype) -> None:
    """Eq. (5) and (6) as written equal Norse's general reset functions value for value (zeros
    compare equal whatever their sign). Autograd's partials through them are the neuron's closed
    forms exactly; Norse's are the same for the hard reset, and for the soft one up to the
    rounding of its ``(u - theta) - u`` for ``-theta``."""
    import norse.torch.functional.reset as norse

    neuron = LIF(NeuronParameters(theta=0.7, reset=reset)).neuron
    gen = torch.Generator().manual_seed(3)
    u = (torch.rand(4000, generator=gen, dtype=torch.float64) * 3 - 1).to(dtype)
    u[:4] = torch.tensor([0.7, -0.0, 0.0, 1.4], dtype=dtype)  # at theta, both zeros, twice theta
    z = (u >= 0.7).to(dtype)
    ours = neuron.reset(u, z)
    want = getattr(norse, norse_reset)(z, u, torch.zeros((), dtype=dtype), 0.7)
    assert ours.dtype == dtype and torch.equal(ours, want)
    a = [t.clone().requires_grad_(True) for t in (u, z)]
    b = [t.clone().requires_grad_(True) for t in (u, z)]
    g_ours = torch.autograd.grad(neuron.reset(*a).sum(), a)
    g_norse = torch.autograd.grad(getattr(norse, norse_reset)(b[1], b[0], torch.zeros((), dtype=dtype), 0.7).sum(), b)
    closed = [torch.as_tensor(c, dtype=dtype).expand_as(u) for c in neuron.reset_partials(u, z)]
    for got, expected, norses in zip(g_ours, closed, g_norse):
        assert torch.equal(got, expected)
        if reset == "hard":
            assert torch.equal(got, norses)
        else:
            torch.testing.assert_close(got, norses)

@pytest.mark.parametrize("gamma", [1.0, 0.5])
def test_triangle_surrogate_is_the_reference_formula(gamma: float) -> None:
    u = torch.linspace(-0.5, 2.5, 301, dtype=torch.float64).requires_grad_(True)
    p = NeuronParameters(theta=1.0, gamma=gamma)
    z, _ = neuron_step(u, NeuronState(torch.zeros_like(u)), p)  # u(t) = 0 + I(t)
    (grad,) = torch.autograd.grad(z.sum(), u)
    expected = (1 / gamma**2) * torch.clamp(gamma - (u.detach() - 1.0).abs(), min=0)
    torch.testing.assert_close(grad, expected)
    assert z.detach()[u.detach() >= 1.0].eq(1).all() and z.detach()[u.detach() < 1.0].eq(0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("surrogate", SURROGATES)
def test_spike_slope_is_autograds_slope_of_spike_bit_for_bit(surrogate: str, dtype: torch.dtype) -> None:
    """The closed form the fused training loop uses: for every surrogate, at the threshold, at
    the edges of the triangle, far out and at random points, for several widths."""
    from snnsec.neurons.functional import spike, spike_slope

    gen = torch.Generator().manual_seed(3)
    for gamma in (0.3, 1.0, 2.5):
        special = torch.tensor([0.0, gamma, -gamma, 1e-30, -1e-30, 1.0, -1.0, 50.0, -50.0], dtype=dtype)
        x = torch.cat([torch.randn(5000, generator=gen, dtype=dtype) * 2 * gamma, special]).requires_grad_(True)
        p = NeuronParameters(theta=1.0, surrogate=surrogate, gamma=gamma)
        (want,) = torch.autograd.grad(spike(x, p).sum(), x)
        got = spike_slope(x.detach(), p)
        assert got.dtype == dtype and torch.equal(got, want), (gamma, int((got != want).sum()))
        assert want.abs().sum() > 0


def test_state_carries_across_time_chunks() -> None:
    currents = torch.rand(12, 3, 50, generator=torch.Generator().manual_seed(2))
    lif = LIF(NeuronParameters(leak=0.8, reset="soft"))
    whole, s_whole = lif(currents)
    a, s = lif(currents[:5])
    b, s = lif(currents[5:], s)
    assert torch.equal(torch.cat([a, b]), whole)
    assert torch.equal(s.u, s_whole.u)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"leak": 0.0}, "leak"), ({"leak": 1.5}, "leak"), ({"theta": -1.0}, "threshold"),
     ({"reset": "zero"}, "reset"), ({"surrogate": "box"}, "surrogate")],
)
def test_bad_parameters_name_the_problem(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        LIF(NeuronParameters(**kwargs))


def test_sequence_shape_is_checked_at_the_door() -> None:
    with pytest.raises(InputError, match=r"\[T, B, \.\.\.\]"):
        LIF()(torch.rand(5))


@pytest.mark.parametrize("surrogate", ["triangle", "super", "tanh", "circ", "heavi_erfc"])
@pytest.mark.parametrize(("theta", "gamma"), [(1.0, 1.0), (0.3, 0.5), (1.0, 3.0), (1e-20, 7.0), (2.5, 1e-3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_no_grad_fire_is_spikes_surrogate_forward_bit_for_bit(surrogate: str, theta: float, gamma: float,
                                                              dtype: torch.dtype) -> None:
    """Without a gradient to carry, ``fire`` compares ``u >= theta`` instead of running the
    surrogate function; the spikes must be the surrogate forward's, at the threshold and its
    float neighbours, at +-0, +-inf and NaN included."""
    from snnsec.neurons.base import neuron_model
    from snnsec.neurons.functional import spike

    p = NeuronParameters(1.0, theta, "hard", surrogate, gamma)
    model = neuron_model(p)
    t = torch.tensor(theta, dtype=dtype)
    near = [t, torch.nextafter(t, t + 1), torch.nextafter(t, t - 1), torch.nextafter(torch.nextafter(t, t + 1), t + 1)]
    special = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan"), -theta], dtype=dtype)
    u = torch.cat([torch.stack(near), special, torch.randn(4000, dtype=dtype) * theta * 2])
    with torch.no_grad():
        fast = model.fire(u)
        want = spike(u - theta, p)
    assert fast.dtype == want.dtype and torch.equal(fast, want)
    assert fast[0] == 1 and fast[1] == 1 and fast[2] == 0  # fires on reaching theta
    # with a gradient to carry, the surrogate still runs (and carries it)
    g = u[:4].clone().requires_grad_(True)
    z = model.fire(g)
    assert torch.equal(z.detach(), want[:4]) and z.grad_fn is not None
