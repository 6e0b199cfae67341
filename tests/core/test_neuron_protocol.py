"""Every registered neuron type against its own references, and every surrogate against finite
differences of the smooth function it is the derivative of."""

from __future__ import annotations

import math

import pytest
import torch

from snnsec.neurons import LIF, NEURONS, SURROGATES, NeuronParameters, NeuronState, neuron_model, spike

LEAKS = [1.0, 0.75, 0.5]


def loihi_step(fixed_neuron, v: torch.Tensor, a: torch.Tensor, theta_mant: int, v_decay: int):
    """Loihi's CUBA update with iDecay = 4096 (u is this step's input), written out plainly:
    v = trunc(v * (4096 - vDecay) / 4096) + (a << 6); spike if v > vThMant << 6; neuron's reset."""
    decayed = torch.sign(v) * torch.div(v.abs() * (4096 - v_decay), 4096, rounding_mode="floor")
    v = decayed + a * 64
    z = (v > fixed_neuron.vth_mant(theta_mant) * 64).double()
    return z, fixed_neuron.fixed_reset(v, z, theta_mant * 64)


@pytest.mark.parametrize("name", sorted(NEURONS))
@pytest.mark.parametrize("leak", LEAKS)
def test_layer_equals_the_plain_step_of_its_neuron(name: str, leak: float) -> None:
    """The training step (surrogate autograd function) and the plain step (ONNX, references)
    compute the same spikes and potentials: one neuron, two forms."""
    p = NeuronParameters(leak=leak, theta=1.0, reset=name)
    currents = torch.rand(30, 200, generator=torch.Generator().manual_seed(7), dtype=torch.float64) * 1.5 - 0.2
    z, state = LIF(p)(currents)
    neuron, u = neuron_model(p), torch.zeros(200, dtype=torch.float64)
    plain = []
    for t in range(30):
        s, u = neuron.plain_step(currents[t], u)
        plain.append(s)
    assert z.sum() > 200
    assert torch.equal(z, torch.stack(plain)) and torch.equal(state.u, u)


@pytest.mark.parametrize("name", sorted(NEURONS))
def test_float_step_equals_its_integer_step_on_the_loihi_grid(name: str) -> None:
    """IF neurons on currents that are whole units of theta/K: the float neuron and its Loihi
    integer form (vThMant, vDecay, fixed_reset) fire identically, and v = 64 K u / theta."""
    K = 16
    p = NeuronParameters(leak=1.0, theta=1.0, reset=name)
    neuron = neuron_model(p)
    units = torch.randint(-4, 12, (40, 300), generator=torch.Generator().manual_seed(1)).double()
    u = torch.zeros(300, dtype=torch.float64)
    v = torch.zeros(300, dtype=torch.float64)
    fired = 0
    for t in range(40):
        z_float, u = neuron.plain_step(units[t] / K, u)
        z_int, v = loihi_step(neuron, v, units[t], K, neuron.v_decay())
        assert torch.equal(z_float, z_int), f"step {t}"
        assert torch.equal(u * K * 64, v), f"step {t}"
        fired += int(z_int.sum())
    assert fired > 500


@pytest.mark.parametrize("name", sorted(NEURONS))
@pytest.mark.parametrize("leak", LEAKS)
def test_rga_slope_is_the_derivative_of_its_relaxed_rate(name: str, leak: float) -> None:
    neuron = neuron_model(NeuronParameters(leak=leak, theta=0.8, reset=name))
    grid = torch.linspace(-0.5, 2.5, 3001, dtype=torch.float64)
    h = 1e-6
    numeric = (neuron.rga_rate(grid + h) - neuron.rga_rate(grid - h)) / (2 * h)
    knees = torch.tensor([0.0, (1 - leak) * 0.8, 2.0 * 0.8], dtype=torch.float64)
    away = (grid[:, None] - knees[None, :]).abs().min(1).values > 1e-4
    assert torch.allclose(numeric[away], neuron.rga_slope(grid)[away], atol=1e-6)
    # the static R-I curve is a rate: within [0, 1], 0 below the knee, non-decreasing
    rate = neuron.static_rate(grid)
    assert float(rate.min()) >= 0.0 and float(rate.max()) <= 1.0 and bool((rate.diff() >= 0).all())


@pytest.mark.parametrize("name", sorted(NEURONS))
def test_lava_float_threshold_fires_exactly_when_the_neuron_does(name: str) -> None:
    """Lava's float LIF spikes if v > vth: the neuron's vth must reproduce its own rule, the
    tie u == theta included."""
    neuron = neuron_model(NeuronParameters(theta=0.7, reset=name))
    u = torch.tensor([0.7 - 1e-7, 0.7, 0.7 + 1e-7, 0.0, 2.0], dtype=torch.float64)
    u = torch.cat([u, torch.nextafter(u, torch.full_like(u, -9)), torch.nextafter(u, torch.full_like(u, 9))])
    assert torch.equal((u > neuron.lava_threshold()).double(), neuron.fires(u))
    problem = neuron.netx_problem()
    assert problem is None or (isinstance(problem, str) and len(problem.splitlines()) == 1)
    assert type(neuron).summary and type(neuron).name == name


# -- surrogates ---------------------------------------------------------------------------------
def primitive(name: str, x: torch.Tensor, g: float) -> torch.Tensor:
    """The smooth step whose derivative each surrogate is (x = u - theta, g = gamma)."""
    if name == "triangle":  # (1/g^2) max(0, g - |x|)
        inner = x / g - torch.sign(x) * x * x / (2 * g * g)
        return torch.where(x.abs() < g, inner, torch.sign(x) * 0.5)
    if name == "super":  # 1 / (g |x| + 1)^2, SuperSpike
        return x / (g * x.abs() + 1)
    if name == "tanh":  # 1 - tanh(g x)^2
        return torch.tanh(g * x) / g
    if name == "circ":  # g^3 / (x^2 + g^2)^(3/2)
        return g * x / torch.sqrt(x * x + g * g)
    if name == "heavi_erfc":  # 2/sqrt(pi) exp(-(g x)^2)
        return torch.erf(g * x) / g
    raise AssertionError(f"no reference for surrogate {name!r}: add one")


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0])
def test_surrogate_equals_finite_differences_of_its_formula(name: str, gamma: float) -> None:
    x = torch.linspace(-3, 3, 1201, dtype=torch.float64)
    x = x[((x.abs() - gamma).abs() > 1e-3) & (x.abs() > 1e-3)]  # off the kinks
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(spike(xg, NeuronParameters(surrogate=name, gamma=gamma)).sum(), xg)
    h = 1e-6
    numeric = (primitive(name, x + h, gamma) - primitive(name, x - h, gamma)) / (2 * h)
    assert torch.allclose(grad, numeric, atol=1e-6), float((grad - numeric).abs().max())
    # and gamma matters: the same check at another width fails
    other = (primitive(name, x + h, gamma * 1.5) - primitive(name, x - h, gamma * 1.5)) / (2 * h)
    assert not torch.allclose(grad, other, atol=1e-3)


@pytest.mark.parametrize("name", SURROGATES)
def test_surrogate_forward_is_the_paper_step(name: str) -> None:
    x = torch.tensor([-0.5, -1e-9, 0.0, 1e-9, 0.5])
    assert spike(x, NeuronParameters(surrogate=name)).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]


def test_state_is_returned_not_hidden() -> None:
    lif = LIF(NeuronParameters(reset="soft", leak=0.9))
    x = torch.rand(8, 3, 5) * 2
    z_all, s_all = lif(x)
    z1, s1 = lif(x[:3])
    z2, s2 = lif(x[3:], s1)
    assert isinstance(s2, NeuronState) and torch.equal(torch.cat([z1, z2]), z_all) and torch.equal(s2.u, s_all.u)
    assert math.isclose(float(lif.neuron.theta), 1.0)
