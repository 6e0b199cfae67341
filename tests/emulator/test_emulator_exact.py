"""The emulator against the plain integer reference (simulate_fixed) and an int64 numpy CUBA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnsec.backends.base import input_steps
from snnsec.emulator import Emulator, emulator_for
from snnsec.emulator.engine import finalize_plans
from snnsec.emulator.plan import F32_EXACT, LayerPlan, SynapsePlan, factorise_pool
from snnsec.errors import InputError
from snnsec.export.graph import model_graph
from snnsec.export.quantize import quantize
from snnsec.export.reference import simulate_fixed
from tests.emulator.models import exportable_resnet, full_width, tiny_resnet
from tests.lava.tiny_models import tiny_vgg

pytestmark = pytest.mark.cost(10)  # rough CPU seconds under the suite: orders the xdist schedule


def _compare(fixed, msgs, emu) -> int:
    """Assert the emulator equals simulate_fixed on every spike and every readout step."""
    ref = simulate_fixed(fixed, np.swapaxes(msgs, 0, 1))
    res = emu.run(msgs, record_spikes=True, record_readout=True)
    np.testing.assert_array_equal(res.readout, ref.readout[-1])
    np.testing.assert_array_equal(res.readout_steps, np.swapaxes(ref.readout, 0, 1))
    fired = 0
    for i, s in enumerate(res.spikes):
        assert (s is None) == (ref.spikes[i] is None)
        if s is not None:
            want = np.swapaxes(ref.spikes[i], 0, 1)
            assert np.array_equal(s, want), f"{fixed.populations[i].name}: {int((s != want).sum())} spikes differ"
            fired += int(s.sum())
    return fired


def _frames_model():
    """vgg5 at 1/8 width on 2x8x8 event frames (T = 4), random weights."""
    from snnsec.models import build_model

    torch.manual_seed(5)
    model = build_model("vgg5", num_classes=3, input_shape=(4, 2, 8, 8), T=4, width=0.125, encoder="frames")
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.uniform_(0.3, 0.6)
            m.bias.data.uniform_(0.1, 0.4)
    return model.eval()


CASES = {
    "event frames": _frames_model,
    "conv chain, poisson": lambda: tiny_vgg(encoder="poisson", T=6, seed=3),
    "leak 0.5, graded direct": lambda: tiny_vgg(encoder="direct", leak=0.5, T=5, seed=1,
                                               normalization={"mean": [0.5], "std": [0.25]}),
    "soft reset": lambda: tiny_vgg(encoder="poisson", reset="soft", T=5, seed=2),
    "residual, soft, leak 0.9": lambda: tiny_resnet(encoder="poisson", leak=0.9, reset="soft", T=3, seed=2),
    "residual, direct": lambda: tiny_resnet(encoder="direct", T=4, seed=4),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("batch_size,time_chunk", [(2, 2), (64, None)])
def test_emulator_equals_the_integer_reference(case, batch_size, time_chunk):
    """Batches and time chunks of any size give the reference's spikes, bit for bit."""
    model = CASES[case]()
    fixed = quantize(model_graph(model))
    x = torch.rand(5, *model.meta.input_shape, generator=torch.Generator().manual_seed(7))
    if model.meta.encoder == "frames":
        x = (x < 0.4).float()
    msgs = fixed.messages(input_steps(model, x, seed=3))
    emu = emulator_for(fixed, device="cpu", batch_size=batch_size, time_chunk=time_chunk)
    assert _compare(fixed, msgs, emu) > 100


@pytest.mark.parametrize("leak,state", [(1.0, "float32"), (0.5, "float32"), (0.75, "float64")])
def test_neuron_state_is_float32_exactly_where_the_decay_is_a_power_of_two(leak, state):
    """IF (vDecay 0) and leak 0.5 (4096 - vDecay = 2048) decay by a power of two: exact in
    float32; leak 0.75 (x 3072/4096) is not, so that state stays float64. Both equal the reference."""
    model = tiny_vgg(encoder="poisson", leak=leak, T=6, seed=5)
    fixed = quantize(model_graph(model))
    emu = emulator_for(fixed, device="cpu")
    assert [layer["state"] for layer in emu.describe()[:-1]] == [state] * 4
    msgs = fixed.messages(input_steps(model, torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(2)), seed=2))
    assert _compare(fixed, msgs, emu) > 100


def test_pooled_layers_run_as_sum_pool_plus_small_kernel_only_where_verified():
    model = tiny_vgg(encoder="poisson", T=3, seed=0)
    fixed = quantize(model_graph(model))
    emu = emulator_for(fixed, device="cpu")
    pools = [s["pool"] for layer in emu.describe() for s in layer["synapses"]]
    assert pools == [1, 2, 2, 2, 1]  # conv1 | pool+conv2 | pool+conv3 | pool+flatten+fc | readout
    # a folded kernel whose quantised taps no longer repeat in 2x2 blocks is left folded
    syn = fixed.populations[1].synapses[0]
    plan = SynapsePlan(syn.source, "conv", syn.weight.copy(), syn.stride, syn.padding, (1, 1), syn.groups)
    assert factorise_pool(plan, fixed.populations[0].shape).pool == 2
    plan.weight[0, 0, 0, 0] += 2
    assert factorise_pool(plan, fixed.populations[0].shape).pool == 1
    # and the unfactorised plan gives the same spikes
    msgs = fixed.messages(input_steps(model, torch.rand(3, 1, 8, 8), seed=1))
    a = emu.run(msgs, record_spikes=True)
    b = emulator_for(fixed, device="cpu", pool=False).run(msgs, record_spikes=True)
    assert all(x is None or np.array_equal(x, y) for x, y in zip(a.spikes, b.spikes))
    np.testing.assert_array_equal(a.readout, b.readout)


def _numpy_cuba(weight: np.ndarray, bias: np.ndarray, vth: int, msgs: np.ndarray) -> np.ndarray:
    """One dense CUBA layer (iDecay 4096, vDecay 0) in int64 numpy: the final v per sample."""
    N, T = msgs.shape[:2]
    v = np.zeros((N, weight.shape[0]), dtype=np.int64)
    for t in range(T):
        a = msgs[:, t].astype(np.int64) @ weight.T.astype(np.int64)
        u = a << 6
        u = np.where(u > 2**23, u - 2**24, u)
        u = np.where(u <= -2**23, u + 2**24, u)
        v = np.clip(v + u + (bias.astype(np.int64) << 6), -(2**23 - 1), 2**23 - 1)
        v = np.where(v > (vth << 6), 0, v)
    return v


@pytest.mark.parametrize("peak,expect", [(2**24 // (64 * 255), torch.float32), (2**15, torch.float64)])
def test_float32_is_used_exactly_where_the_bound_proves_it_exact(peak, expect):
    """Both sides of the bound: at sum|w| * max|msg| <= 2**24 the plan runs float32 and is exact;
    beyond it the plan falls back to float64, and float32 would indeed have been wrong."""
    gen = np.random.default_rng(0)
    fan_in = 64
    weight = gen.choice([-256, -254, 250, 254], size=(3, fan_in)).astype(np.int64)
    bias = np.array([5, -7, 0])
    layer = LayerPlan("dense", (3,), [SynapsePlan(-1, "dense", weight)], bias, vth_mant=2**16, spiking=False)
    plans = finalize_plans([layer], (fan_in,), np.full(fan_in, float(peak)))
    syn = plans[0].synapses[0]
    assert syn.bound == float(np.abs(weight).sum(axis=1).max() * peak)
    assert (syn.bound <= F32_EXACT) == (expect == torch.float32)
    assert syn.dtype == expect
    msgs = gen.integers(-peak, peak + 1, size=(6, 4, fan_in))
    msgs[0, :, :] = np.sign(weight[0]) * peak  # the worst case for neuron 0
    got = Emulator(plans, (fan_in,), device="cpu").run(torch.from_numpy(msgs)).readout
    np.testing.assert_array_equal(got, _numpy_cuba(weight, bias, 2**16, msgs))
    if expect == torch.float64:  # the fallback matters: float32 loses low bits of these sums
        x32 = torch.from_numpy(msgs[:, 0].astype(np.float32))
        a32 = torch.nn.functional.linear(x32, torch.from_numpy(weight.astype(np.float32))).double()
        exact = torch.from_numpy(msgs[:, 0] @ weight.T).double()
        assert not torch.equal(a32, exact)


def test_bad_inputs_are_refused_with_one_line():
    fixed = quantize(model_graph(tiny_vgg(encoder="poisson", T=2)))
    emu = emulator_for(fixed, device="cpu")
    with pytest.raises(InputError, match=r"expected input messages \[N, T, 1, 8, 8\]"):
        emu.run(np.zeros((2, 2, 8, 8)))
    with pytest.raises(InputError, match="batch size"):
        emulator_for(fixed, batch_size=0)
    with pytest.raises(InputError, match="unknown device 'tpu'"):
        emulator_for(fixed, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA device"):
            emulator_for(fixed, device="cuda")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg11", "resnet"])
def test_paper_size_models_equal_the_reference_bit_for_bit(name):
    """Full-width VGG-11 and ResNet-17 on 3x32x32, calibrated so that every layer fires."""
    name = exportable_resnet() if name == "resnet" else name
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    model = full_width(name, T=2, x=x)
    fixed = quantize(model_graph(model))
    msgs = fixed.messages(input_steps(model, x))
    emu = emulator_for(fixed, device="cpu")
    assert all(s["dtype"] == "float32" for layer in emu.describe() for s in layer["synapses"])
    res = emu.run(msgs, record_spikes=True)
    assert all(s is None or s.sum() > 0 for s in res.spikes), "a layer never fires"
    _compare(fixed, msgs, emu)
