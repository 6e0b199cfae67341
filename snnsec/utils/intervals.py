"""Interval bounds of a weighted sum: the one home of the range analysis that quantisation
(:mod:`snnsec.export.quantize`) and the emulator's dtype plan (:mod:`snnsec.emulator.plan`) do."""

from __future__ import annotations

import numpy as np

BLOCK = 1 << 18
"""Elements of ``w`` handled at a time: the temporaries stay a few MB instead of four copies of
a whole weight (a 4096x8192 float64 layer is 268 MB each)."""


def interval_sums(w: np.ndarray, lo: np.ndarray, hi: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``(max, min)`` of ``sum(w * x)`` over ``axes`` for every ``x`` with ``lo <= x <= hi``
    elementwise (``lo``/``hi`` broadcast against ``w``; their first axis is 1 or ``w``'s).

    Computed over blocks of ``w``'s first axis, which the sum does not reduce: each output is the
    same numpy reduction of the same products as over the whole array, so the bits are too.
    """
    rows = max(1, BLOCK // max(1, int(np.prod(w.shape[1:]))))
    top = np.empty(w.shape[0], dtype=np.result_type(w, lo, hi))
    bottom = np.empty_like(top)
    for s in range(0, w.shape[0], rows):
        ws = w[s:s + rows]
        a = ws * (lo[s:s + rows] if lo.shape[0] > 1 else lo)
        b = ws * (hi[s:s + rows] if hi.shape[0] > 1 else hi)
        top[s:s + rows] = np.maximum(a, b).sum(axis=axes)
        bottom[s:s + rows] = np.minimum(a, b, out=a).sum(axis=axes)
    return top, bottom
