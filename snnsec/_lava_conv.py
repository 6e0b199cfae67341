"""A fast stand-in for Lava's CPU convolution: exact on integer data, float64-rounding close on floats.

Lava's Conv process model (``lava.proc.conv.models``, both ``fixed_pt`` and ``floating_pt``)
computes each step through ``lava.proc.conv.utils.conv``. In lava-nc 0.10.0 its torch branch is
switched off (``TORCH_IS_AVAILABLE = False``), so every step runs ``conv_scipy``: one
``scipy.signal.convolve2d`` per (output, input) channel pair in a Python double loop, in float64.
For the MNIST demo vgg5 that loop is about 90 % of lava-sim's CPU time, and a full-width VGG-11
makes about a million such calls per step.

:func:`conv` computes the same convolution as one matrix product per group (im2col):

- **Integer data** (the fixed-point model always has it: ``int32`` weights, ``int32`` or ``bool``
  spikes): every product and every partial sum is an integer; in float64 those are exact while
  they stay below 2**53, whatever the order of summation (in float32 below 2**24, which it uses
  where the bound allows: unary spikes with 8-bit weights). Both ``conv_scipy`` and this function
  are then exact, so their results are identical, bit for bit. The function checks the bound on
  each call (``max|x| * max|w| * fan-in``) and hands larger magnitudes to ``conv_scipy``.
- **Float data** (the ``floating_pt`` model's float weights and graded input): one float64
  product per group. Its sums run in another order than ``conv_scipy``'s, so the two agree to
  float64 rounding (a few units in the last place of each output; ``tests/lava/test_lava_conv.py``
  bounds it), not bit for bit. No order is the right one here: the float model simulates the
  network to compare it with torch's float32 forward, which differs from either by about 1e-7;
  Lava's own torch branch would compute in float32. A trained model's float weights span more
  than 53 bits of exponent and mantissa, so no order would make these sums exact.

Anything else (complex data, a kernel that does not fit) goes to Lava's own ``conv_scipy`` unchanged.

:mod:`snnsec._lava_compat` routes ``lava.proc.conv.utils.conv`` here when that module is first
imported (Lava's forked workers inherit it). ``SNNSEC_LAVA_SCIPY_CONV=1`` turns it off for both
kinds of data: Lava then runs exactly as shipped (``tests/lava/test_lava_conv.py`` checks that a
fixed-point run gives the same spikes both ways, and a float run the same spikes and readouts to
rounding).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

EXACT_LIMIT = 2.0**53  # float64 represents every integer below this exactly
FLOAT32_EXACT = 2.0**24  # float32 likewise up to this
_INTEGER_KINDS = "biu"
_FLOAT_KINDS = "biuf"  # what the float path takes (bool and integer input into float weights, too)


def enabled() -> bool:
    """Whether Lava's convolution is routed through :func:`conv` (not when ``SNNSEC_LAVA_SCIPY_CONV=1``)."""
    return os.environ.get("SNNSEC_LAVA_SCIPY_CONV", "") in ("", "0")


def active() -> bool:
    """Whether Lava's convolution runs here now: the rewrite of ``lava.proc.conv.utils`` applied
    (it warns when another Lava release's source does not match) and the switch is on."""
    from snnsec._lava_compat import install

    install()
    try:
        from lava.proc.conv import utils
    except Exception:  # Lava missing or broken: `snnsec env` reports that on its own line
        return False
    return enabled() and __name__ in utils.conv.__code__.co_consts


def _abs_max(a: np.ndarray) -> float:
    if not a.size:
        return 0.0
    if a.dtype == bool:
        return float(a.any())
    return float(max(-int(a.min()), int(a.max())))


def conv(
    fallback: Callable[..., np.ndarray],
    input_: np.ndarray,
    weight: np.ndarray,
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    groups: int,
) -> np.ndarray:
    """``conv_scipy``'s result (float64 ``[X, Y, K]``) for ``input_`` ``[X, Y, C]`` and ``weight``
    ``[K, kx, ky, C // groups]``: computed here (bit for bit on integer data within the exactness
    bound, to float64 rounding on float data), else by ``fallback`` (``conv_scipy``)."""
    args = (input_, weight, kernel_size, stride, padding, dilation, groups)
    kinds = input_.dtype.kind + weight.dtype.kind
    if not enabled() or any(k not in _FLOAT_KINDS for k in kinds):
        return fallback(*args)
    (kx, ky), (sx, sy), (px, py), (dx, dy) = (tuple(int(v) for v in p) for p in (kernel_size, stride, padding, dilation))
    groups = int(groups)
    k_out, c_in = weight.shape[0], input_.shape[2]
    if groups < 1 or c_in % groups or k_out % groups or weight.shape[1:] != (kx, ky, c_in // groups):
        return fallback(*args)  # let Lava raise its own error
    if all(k in _INTEGER_KINDS for k in kinds):
        fan_in = kx * ky * (c_in // groups)
        bound = _abs_max(input_) * _abs_max(weight) * fan_in  # no partial sum exceeds it
        if bound >= EXACT_LIMIT:
            return fallback(*args)
        # float32 where every partial sum stays within its exact integers (unary spikes and 8-bit
        # weights: always), float64 otherwise; the result is float64 like conv_scipy's either way
        dtype = np.float32 if bound <= FLOAT32_EXACT else np.float64
    else:
        dtype = np.float64  # float data: conv_scipy's precision, summed in another order
    x = np.pad(input_.astype(dtype), ((px, px), (py, py), (0, 0)))
    ex, ey = dx * (kx - 1) + 1, dy * (ky - 1) + 1  # the dilated kernel's extent
    if x.shape[0] < ex or x.shape[1] < ey:
        return fallback(*args)
    # scipy's convolve2d is a true convolution: a correlation with the flipped kernel
    windows = np.lib.stride_tricks.sliding_window_view(x, (ex, ey), axis=(0, 1))[::sx, ::sy, :, ::dx, ::dy]
    ox, oy = windows.shape[:2]  # [ox, oy, C, kx, ky]
    w = weight.astype(dtype)[:, ::-1, ::-1, :]
    k_grp, c_grp = k_out // groups, c_in // groups
    out = np.empty((ox, oy, k_out), dtype=np.float64)  # conv_scipy's dtype
    for g in range(groups):
        cols = windows[:, :, g * c_grp:(g + 1) * c_grp].reshape(ox * oy, c_grp * kx * ky)
        kern = w[g * k_grp:(g + 1) * k_grp].transpose(0, 3, 1, 2).reshape(k_grp, c_grp * kx * ky)
        out[:, :, g * k_grp:(g + 1) * k_grp] = (cols @ kern.T).reshape(ox, oy, k_grp)
    return out
