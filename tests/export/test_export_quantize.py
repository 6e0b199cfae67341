"""Quantisation onto Loihi 2's integers: grid, limits, the threshold quantum, exact grids."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnsec.backends.base import input_steps
from snnsec.errors import InputError
from snnsec.export.graph import model_graph
from snnsec.export.quantize import A_LIMIT, BIAS_MANT_MAX, VTH_MANT_MAX, quantize
from snnsec.export.reference import simulate_fixed
from tests.lava.tiny_models import on_grid, tiny_resnet, tiny_vgg, torch_spikes


@pytest.mark.parametrize("model", [tiny_vgg(encoder="direct", T=3, seed=4), tiny_resnet(T=2, seed=4)],
                         ids=["vgg", "resnet"])
def test_integers_respect_loihi_limits(model):
    fixed = quantize(model_graph(model))
    for pop, rep in zip([p for p in fixed.populations if not p.relay], fixed.report):
        for syn in pop.synapses:
            w = syn.weight
            assert w.dtype == np.int64 and w.min() >= -256 and w.max() <= 254
            assert np.all(w % 2 == 0)  # 8-bit mantissa x 2: lava-nc truncates the LSB of mixed-sign weights
        assert np.abs(pop.bias).max(initial=0) <= BIAS_MANT_MAX
        assert 0 < pop.vth_mant <= VTH_MANT_MAX
        assert rep.acc_bound <= A_LIMIT
        if pop.spiking:  # theta = K units, Loihi fires on v > (K - 1) << 6
            assert pop.vth_mant == round(pop.scale * 1.0) - 1
        assert rep.weight_rel_error < 0.05


def test_exact_grid_is_found_and_the_integer_model_reproduces_torch_spike_for_spike():
    model = on_grid(tiny_vgg(encoder="poisson", T=6, seed=3))
    fixed = quantize(model_graph(model))
    assert [r.limited_by for r in fixed.report] == ["exact grid"] * len(fixed.report)
    assert all(r.weight_rel_error == 0.0 and r.bias_max_abs_error == 0.0 for r in fixed.report)
    steps = input_steps(model, torch.rand(6, 1, 8, 8), seed=2)
    trace = simulate_fixed(fixed, np.swapaxes(fixed.messages(steps), 0, 1))
    ref, logits = torch_spikes(model, torch.from_numpy(steps).transpose(0, 1))
    for i, pop in enumerate(fixed.populations[:-1]):
        np.testing.assert_array_equal(trace.spikes[i], ref[pop.name].numpy())
    np.testing.assert_array_equal(trace.readout / (64 * fixed.populations[-1].scale), logits.double().cumsum(0).numpy())


def test_threshold_quantum_matters():
    """Without the one-quantum offset (vThMant = K), Loihi would miss every u == theta spike."""
    model = on_grid(tiny_vgg(encoder="poisson", T=6, seed=3))
    fixed = quantize(model_graph(model))
    steps = input_steps(model, torch.rand(6, 1, 8, 8), seed=2)
    msgs = np.swapaxes(fixed.messages(steps), 0, 1)
    good = simulate_fixed(fixed, msgs)
    for p in fixed.populations[:-1]:
        p.vth_mant += 1
    off = simulate_fixed(fixed, msgs)
    assert sum(int(a.sum()) for a in good.spikes if a is not None) > sum(int(b.sum()) for b in off.spikes if b is not None)


def test_leak_maps_to_vdecay():
    fixed = quantize(model_graph(tiny_vgg(leak=0.5, T=2)))
    assert [p.v_decay for p in fixed.populations] == [2048, 2048, 2048, 2048, 0]  # readout integrates


def test_inputs_outside_the_domain_or_non_binary_spikes_are_refused_with_the_value():
    fixed = quantize(model_graph(tiny_vgg(encoder="direct", T=2)))
    with pytest.raises(InputError, match=r"\[0, 1\].*found 1\.5"):
        fixed.messages(np.full((1, 2, 1, 8, 8), 1.5))
    spiking = quantize(model_graph(tiny_vgg(encoder="poisson", T=2)))
    with pytest.raises(InputError, match="must be 0 or 1; found 0.25"):
        spiking.messages(np.full((1, 2, 1, 8, 8), 0.25))


def test_direct_input_messages_are_exact_for_8_bit_pixels():
    fixed = quantize(model_graph(tiny_vgg(encoder="direct", T=2)))
    pixels = np.arange(256, dtype=np.float32) / 255.0
    assert np.array_equal(fixed.messages(pixels.reshape(1, 1, 1, 16, 16).repeat(2, axis=1)).ravel()[:256], np.arange(256))
    assert fixed.message_bits == 8


@pytest.mark.parametrize("shape, axes, per_row", [((37, 5, 3, 3), (1, 2, 3), True), ((23, 301), (1,), False),
                                                  ((23, 301), (1,), True)])
def test_interval_sums_in_blocks_equal_the_whole_array_formula_bit_for_bit(monkeypatch, shape, axes, per_row) -> None:
    """The range analysis behind every quantisation scale: blocking it must not move one bit."""
    from snnsec.utils import intervals

    rng = np.random.default_rng(0)
    w = rng.normal(size=shape)
    bshape = (shape[0] if per_row else 1,) + shape[1:]
    lo = -rng.random(bshape)
    hi = rng.random(bshape) * 3
    want_top = np.maximum(w * lo, w * hi).sum(axis=axes)
    want_bottom = np.minimum(w * lo, w * hi).sum(axis=axes)
    monkeypatch.setattr(intervals, "BLOCK", 64)  # many blocks, a ragged last one
    top, bottom = intervals.interval_sums(w, lo, hi, axes)
    assert top.tobytes() == want_top.tobytes() and bottom.tobytes() == want_bottom.tobytes()
    x = np.where(w >= 0, hi, lo) if per_row else np.where(w >= 0, np.broadcast_to(hi, w.shape), lo)
    np.testing.assert_allclose(top, (w * x).sum(axis=axes))  # attained: it is the maximum


def test_weight_grid_and_error_norms_in_blocks_equal_the_whole_array_formulas_bit_for_bit(monkeypatch) -> None:
    """quantize puts weights on the grid block by block and sums the errors in one shared buffer
    (paper-size layers); blocks and buffers must not move one bit of the integers or the report."""
    from snnsec.export import quantize as q

    rng = np.random.default_rng(1)
    units = [rng.normal(scale=40.0, size=(37, 5, 3, 3)), rng.normal(scale=40.0, size=(23, 301))]
    factors, s = [0.5, 1.0], 3.7
    want = [2 * np.clip(np.rint(w * s / 2.0), *q.WEIGHT_MANT).astype(np.int64) for w in units]
    want_clipped = sum(int(np.sum(np.abs(w * s / 2.0) > 128.0)) for w in units)
    assert want_clipped > 0  # the clip is exercised
    monkeypatch.setattr(q, "BLOCK", 64)  # many blocks, a ragged last one
    ints, clipped = q._weight_grid(units, s)
    assert clipped == want_clipped
    assert all(a.dtype == np.int64 and a.shape == b.shape and a.tobytes() == b.tobytes() for a, b in zip(ints, want))

    w_err = np.concatenate([(wi / s - w).ravel() * f for wi, w, f in zip(want, units, factors)])
    w_ref = np.concatenate([w.ravel() * f for w, f in zip(units, factors)])
    buf = q._concatenated(units, lambda i, out: np.subtract(np.divide(ints[i], s, out=out), units[i], out=out),
                          factors)
    assert buf.tobytes() == w_err.tobytes()
    assert q._sum_of_squares(buf) == float(np.sum(w_err * w_err))
    again = q._concatenated(units, lambda i, out: np.copyto(out, units[i]), factors, out=buf)
    assert again is buf and q._sum_of_squares(buf) == float(np.sum(w_ref * w_ref))
