"""snnsec._lava_conv: Lava's CPU convolution, computed as a matrix product, equals Lava's own
``conv_scipy`` bit for bit on integer data, to float64 rounding on float data, and hands
everything else back to it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from snnsec import _lava_conv

pytestmark = pytest.mark.lava


@pytest.fixture(scope="module")
def lava_utils():
    import lava.proc.conv.utils as utils  # the .pth hook (or snnsec's import) installs the rewrite

    return utils


GEOMETRIES = [  # kernel, stride, padding, dilation, groups
    ((k, k2), s, p, d, g)
    for (k, k2), s, p, d, g in itertools.product(
        [(1, 1), (3, 3), (3, 2), (5, 3)], [(1, 1), (2, 2), (2, 1)], [(0, 0), (1, 1), (2, 0)], [(1, 1), (2, 2), (1, 2)], [1, 2])
]


@pytest.mark.parametrize("kind", ["bool", "int32", "int32-24bit"])
def test_equals_conv_scipy_bit_for_bit_over_geometries(lava_utils, kind):
    """Every geometry of the grid (stride, padding, dilation, groups, non-square kernels and
    images), on unary spikes, graded int32 messages and 24-bit messages: identical float64
    arrays, and ``conv`` (Lava's entry point, rewritten) returns the same as unpatched Lava."""
    rng = np.random.default_rng(7)
    compared = 0
    for kernel, stride, padding, dilation, groups in GEOMETRIES:
        c, k = 4, 6
        if kind == "bool":
            x = rng.random((9, 7, c)) < 0.3
        else:
            hi = 2**23 if kind == "int32-24bit" else 300
            x = rng.integers(-hi, hi, (9, 7, c)).astype(np.int32)
        w = rng.integers(-256, 255, (k, *kernel, c // groups)).astype(np.int32)
        try:
            want = lava_utils.conv_scipy(x, w, kernel, stride, padding, dilation, groups)
        except ValueError:  # the kernel does not fit: nothing to compare
            continue
        got = _lava_conv.conv(_unused, x, w, kernel, stride, padding, dilation, groups)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want), (kernel, stride, padding, dilation, groups)
        # Lava's conv casts to the weights' int32; 24-bit messages overflow it, on both sides alike
        with np.errstate(invalid="ignore"):
            assert np.array_equal(lava_utils.conv(x, w, kernel, stride, padding, dilation, groups), want.astype(np.int32))
        compared += 1
    assert compared > 150


def test_float32_only_where_every_sum_is_an_exact_float32_integer(lava_utils):
    """Just above 2**24 a float32 product loses its last bit (4097 * 4097 = 16,785,409 is odd):
    that bound must take float64; just below, float32 is exact. Both equal conv_scipy."""
    geometry = ((1, 1), (1, 1), (0, 0), (1, 1), 1)
    for value in (4096, 4097):  # bounds 2**24 and 2**24 + 8,193
        x = np.full((2, 2, 1), value, dtype=np.int32)
        w = np.full((1, 1, 1, 1), value, dtype=np.int32)
        got = _lava_conv.conv(_unused, x, w, *geometry)
        assert np.array_equal(got, lava_utils.conv_scipy(x, w, *geometry)) and got[0, 0, 0] == value * value


def _unused(*args):
    raise AssertionError("the exact path must not fall back here")


@pytest.mark.parametrize("kind", ["graded float input", "bool spikes", "int32 messages"])
def test_float_weights_equal_conv_scipy_to_float64_rounding_over_geometries(lava_utils, kind):
    """The floating_pt model's float weights (here spanning 40 binary orders of magnitude, as a
    trained model's do) on every geometry of the grid: each output is within the float64
    summation bound of conv_scipy's, ``fan-in * eps * (|x| conv |w|)``, which is about
    ``1e-13`` relative to the terms; a wrong index or sign would be off by a whole term."""
    rng = np.random.default_rng(11)
    eps = np.finfo(np.float64).eps
    compared = worst = 0.0
    for kernel, stride, padding, dilation, groups in GEOMETRIES:
        c, k = 4, 6
        if kind == "bool spikes":
            x = rng.random((9, 7, c)) < 0.3
        elif kind == "int32 messages":
            x = rng.integers(-300, 300, (9, 7, c)).astype(np.int32)
        else:
            x = rng.normal(size=(9, 7, c))
        w = rng.normal(size=(k, *kernel, c // groups)) * 2.0 ** rng.integers(-40, 1, (k, *kernel, c // groups))
        try:
            want = lava_utils.conv_scipy(x, w, kernel, stride, padding, dilation, groups)
        except ValueError:
            continue
        got = _lava_conv.conv(_unused, x, w, kernel, stride, padding, dilation, groups)
        assert got.dtype == want.dtype == np.float64 and got.shape == want.shape
        scale = lava_utils.conv_scipy(np.abs(x.astype(np.float64)), np.abs(w), kernel, stride, padding, dilation, groups)
        fan_in = kernel[0] * kernel[1] * (c // groups)
        err = np.abs(got - want)
        assert (err <= 2 * fan_in * eps * scale).all(), (kernel, stride, padding, dilation, groups)
        worst = max(worst, float((err / np.maximum(scale, np.finfo(float).tiny)).max()))
        compared += 1
    assert compared > 150
    assert worst < 1e-14  # float64 rounding, far below the float32 torch it is compared with


def test_hands_unsafe_magnitudes_and_other_data_to_conv_scipy(lava_utils):
    """Integer products that could exceed float64's exact integers, and data neither integer nor
    real (complex), go to ``conv_scipy`` itself with the arguments unchanged; safe integers and
    float weights do not."""
    calls = []

    def fallback(*args):
        calls.append(args)
        return lava_utils.conv_scipy(*args)

    geometry = ((3, 3), (1, 1), (1, 1), (1, 1), 1)
    x = np.ones((5, 5, 2), dtype=np.int32)
    huge = np.full((5, 5, 2), 2**45, dtype=np.int64)  # 2**45 * 255 * 18 > 2**53
    w_int = np.full((3, 3, 3, 2), 255, dtype=np.int32)
    _lava_conv.conv(fallback, huge, w_int, *geometry)
    assert len(calls) == 1 and calls[0][0] is huge
    w_complex = np.full((3, 3, 3, 2), 0.1 + 0.1j)
    with pytest.warns(np.exceptions.ComplexWarning):  # conv_scipy's own cast, as Lava ships it
        _lava_conv.conv(fallback, x, w_complex, *geometry)
    assert len(calls) == 2 and calls[1][1] is w_complex
    _lava_conv.conv(fallback, x, w_int, *geometry)  # safe integers: no fallback
    _lava_conv.conv(fallback, x, np.full((3, 3, 3, 2), 0.1), *geometry)  # float weights: no fallback
    assert len(calls) == 2


def test_lava_routes_its_convolution_here_unless_turned_off(lava_utils, monkeypatch):
    seen = []
    real = _lava_conv.conv

    def spy(fallback, *args):
        seen.append(fallback)
        return real(fallback, *args)

    monkeypatch.setattr(_lava_conv, "conv", spy)
    x, w = np.ones((4, 4, 1), dtype=bool), np.ones((1, 3, 3, 1), dtype=np.int32)
    lava_utils.conv(x, w, (3, 3), (1, 1), (0, 0), (1, 1), 1)
    assert seen == [lava_utils.conv_scipy]
    assert _lava_conv.active()  # what `snnsec env` reports
    monkeypatch.setenv("SNNSEC_LAVA_SCIPY_CONV", "1")
    assert not _lava_conv.enabled() and not _lava_conv.active()
    calls = []
    real(lambda *a: calls.append(a) or lava_utils.conv_scipy(*a), x, w, (3, 3), (1, 1), (0, 0), (1, 1), 1)
    assert len(calls) == 1  # switched off: Lava's own conv_scipy, even on integer data


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_a_lava_run_gives_the_same_spikes_with_and_without_it(monkeypatch, precision):
    """A tiny VGG (strided and padded convolutions, graded input messages) on lava-sim: every
    population's spikes and the readout, with Lava's own convolution and with this one. Fixed
    point (NetX, integer data): identical. Float (Lava's floating_pt models, float weights):
    identical spikes, readouts equal to float64 rounding."""
    from snnsec.backends.base import input_steps
    from snnsec.backends.lava_sim import LavaSimBackend
    from tests.lava.tiny_models import tiny_vgg

    model = tiny_vgg(encoder="direct", leak=0.75, T=4, seed=4, normalization={"mean": [0.5], "std": [0.25]})
    steps = input_steps(model, torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(5)))
    builder = {"builder": "netx"} if precision == "fixed" else {}
    runs = []
    for scipy_conv in ("1", "0"):
        monkeypatch.setenv("SNNSEC_LAVA_SCIPY_CONV", scipy_conv)  # read in the forked workers, per call
        backend = LavaSimBackend(model, precision=precision, show_progress=False, **builder)
        runs.append(backend.run_steps(steps, record_spikes=True))
    (pred_a, res_a), (pred_b, res_b) = runs
    if precision == "fixed":
        np.testing.assert_array_equal(res_a.readout, res_b.readout)
    else:
        np.testing.assert_allclose(res_b.readout, res_a.readout, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(pred_a.labels, pred_b.labels)
    spiking = 0
    for a, b in zip(res_a.spikes, res_b.spikes):
        if a is not None:
            np.testing.assert_array_equal(a, b)
            spiking += int(a.sum())
    assert spiking > 20  # the convolutions carried spikes
