"""Lava fixed point vs torch and vs the integer reference: exact where the maths says exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnsec.backends.base import input_steps
from snnsec.export.graph import model_graph
from snnsec.export.quantize import quantize
from snnsec.export.reference import simulate_fixed
from tests.lava.tiny_models import on_grid, tiny_resnet, tiny_vgg, torch_spikes

pytestmark = [pytest.mark.lava, pytest.mark.cost(23)]


@pytest.mark.parametrize("builder", ["netx", "lava-nc"])
def test_on_grid_weights_give_identical_spikes_in_torch_and_lava_fixed(builder):
    """Weights on the 8-bit grid and IF neurons: every spike of every layer is identical, after
    taking out each layer's latency (one step per synapse)."""
    from snnsec.backends.lava_sim import LavaSimBackend

    model = on_grid(tiny_vgg(encoder="poisson", T=6, seed=3))
    backend = LavaSimBackend(model, precision="fixed", builder=builder, show_progress=False)
    assert backend.builder == builder
    assert all(r.weight_rel_error == 0.0 and r.limited_by == "exact grid" for r in backend.fixed.report)
    x = torch.rand(3, 1, 8, 8)
    steps = input_steps(model, x, seed=5)
    pred, result = backend.run_steps(steps, record_spikes=True)
    ref, logits = torch_spikes(model, torch.from_numpy(steps).transpose(0, 1))
    pops = backend.graph.populations
    compared = 0
    for i, pop in enumerate(pops[:-1]):
        want = ref[pop.name].transpose(0, 1).numpy()  # [N, T, ...]
        got = result.spikes[i]
        assert got.shape == want.shape
        assert np.array_equal(got, want), f"{pop.name}: {int((got != want).sum())} spikes differ"
        compared += int(want.sum())
    assert compared > 100  # the layers actually spike
    # the readout v is 64 * scale * (sum of logits), exactly
    np.testing.assert_array_equal(pred.scores, logits.double().sum(0).numpy())


def test_streamed_samples_equal_the_integer_reference_with_leak_and_direct_input():
    """Leaky neurons and graded 8-bit input: no longer bit-equal to float torch, but Lava's
    stream must equal snnsec's integer model of Loihi's CUBA update step for step."""
    from snnsec.backends.lava_sim import LavaSimBackend

    model = tiny_vgg(encoder="direct", leak=0.75, T=5, seed=1, normalization={"mean": [0.5], "std": [0.25]})
    backend = LavaSimBackend(model, builder="netx", show_progress=False)
    x = torch.randint(0, 256, (4, 1, 8, 8)).float() / 255.0
    steps = input_steps(model, x)
    pred, result = backend.run_steps(steps, record_spikes=True)
    fixed = backend.fixed
    ref = simulate_fixed(fixed, np.swapaxes(fixed.messages(steps), 0, 1))
    np.testing.assert_array_equal(result.readout, ref.readout[-1])
    for i, s in enumerate(result.spikes):
        if s is not None:
            np.testing.assert_array_equal(s, np.swapaxes(ref.spikes[i], 0, 1))
    assert fixed.populations[0].v_decay == 1024  # round((1 - 0.75) * 4096)


@pytest.mark.slow
def test_resnet_with_soft_reset_matches_torch_in_float():
    """ResNet-17 (residual adds, relays, pooled and 1x1-conv shortcuts) with soft-reset leaky
    neurons: built from lava-nc processes and snnsec's SoftResetLIF.

    The same model in fixed point (Lava = simulate_fixed = loihi2-emu, every spike and the
    readout) is the "residual block" case of tests/emulator/test_emulator_lava.py: one Lava run
    there serves both references."""
    from snnsec.backends.lava_sim import LavaSimBackend

    model = tiny_resnet(encoder="poisson", leak=0.9, reset="soft", T=3, seed=2)
    x = torch.rand(2, 3, 8, 8)
    steps = input_steps(model, x, seed=1)
    float_backend = LavaSimBackend(model, precision="float", show_progress=False)
    fpred, fres = float_backend.run_steps(steps, record_spikes=True)
    spikes, logits = torch_spikes(model, torch.from_numpy(steps).transpose(0, 1))
    np.testing.assert_allclose(fpred.scores, logits.double().sum(0).numpy(), atol=1e-4)
    names = [p.name for p in float_backend.graph.populations]
    for name, want in spikes.items():
        got = fres.spikes[names.index(name)]
        assert np.array_equal(got, want.transpose(0, 1).numpy()), name
    assert np.array_equal(fpred.labels, logits.sum(0).argmax(1).numpy())


def test_large_streams_refilled_chunk_by_chunk_give_the_same_outputs(monkeypatch):
    """Streams too large for one input buffer are refilled between runs (Var.set); the ring
    buffer's phase must carry over so the outputs equal the one-buffer stream."""
    from snnsec.backends.lava import runner
    from snnsec.backends.lava.network import process_network

    model = tiny_vgg(encoder="direct", T=3, seed=6)
    fixed = quantize(model_graph(model))
    msgs = fixed.messages(input_steps(model, torch.rand(5, 1, 8, 8)))
    whole = runner.stream(process_network(fixed, "fixed"), msgs)
    monkeypatch.setattr(runner, "WHOLE_STREAM_BYTES", 2 * 3 * 64 * 4)  # room for about two samples
    chunked = runner.stream(process_network(fixed, "fixed"), msgs)
    np.testing.assert_array_equal(chunked.readout, whole.readout)
    assert chunked.steps == whole.steps == 5 * 3 + fixed.graph.latency
