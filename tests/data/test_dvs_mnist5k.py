"""DVS-MNIST-5k: the DVS pixel model, determinism per seed, and frames through tonic's transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tonic.io import events_struct

from snnsec.data import dvs_mnist5k, get_dataset
from snnsec.data.frames import FrameSpec
from snnsec.data.base import stratified_split
from snnsec.data.mnist5k import SPLIT_SEED, TEST_FRACTION, _load_arrays
from tests.data.conftest import reference_counts


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    images, _ = _load_arrays()
    return images[:12, 0]


def test_same_seed_same_events_other_seed_other_events(digits):
    idx = np.arange(12)
    a, b, c = (dvs_mnist5k.simulate(digits, idx, seed) for seed in (0, 0, 1))
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert all(not np.array_equal(u, w) for u, w in zip(a, c))


def test_a_digits_events_do_not_depend_on_its_batch(digits):
    alone = dvs_mnist5k.simulate(digits[7:8], np.array([7]), seed=3)[0]
    batch = dvs_mnist5k.simulate(digits, np.arange(12), seed=3)[7]
    assert np.array_equal(alone, batch)


def test_events_look_like_a_saccade_recording(digits):
    for events in dvs_mnist5k.simulate(digits, np.arange(12), seed=0):
        assert events.dtype == events_struct  # tonic's (x, y, t, p)
        assert 1000 < len(events) < 12000
        assert np.all(np.diff(events["t"]) >= 0)
        assert 0 <= events["t"].min() and events["t"].max() <= 300_000
        assert events["x"].max() < 34 and events["y"].max() < 34
        on = events["p"].mean()
        assert 0.35 < on < 0.65  # a closed saccade loop returns to its start: ON and OFF balance


def test_constant_scene_gives_only_background_activity():
    events = dvs_mnist5k.simulate(np.zeros((4, 28, 28)), np.arange(4), seed=0)
    counts = [len(e) for e in events]
    assert all(c < 3 * dvs_mnist5k.NOISE_EVENTS for c in counts)  # Poisson noise only (mean 30)
    bright = dvs_mnist5k.simulate(np.ones((1, 28, 28)), np.arange(1), seed=0)[0]
    assert len(bright) > 10 * dvs_mnist5k.NOISE_EVENTS  # a moving square's edges do fire


def test_frames_are_tonic_bins_of_the_events():
    events = dvs_mnist5k.dvs_events(42, seed=0)
    for T in (10, 5):
        spec = FrameSpec(dvs_mnist5k.SENSOR, (34, 34), T, dvs_mnist5k.COUNT_CAP)
        np.testing.assert_array_equal(spec.counts(events), reference_counts(events, 34, 34, T, dvs_mnist5k.COUNT_CAP))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    cache = tmp_path_factory.mktemp("dvs-mnist-cache")
    return get_dataset("dvs-mnist5k", cache_dir=cache), cache


def test_dataset_split_labels_and_domain(dataset):
    ds, _ = dataset
    test = ds.split("test")
    assert len(test) == 1000
    assert ds.sample_shape() == (10, 2, 34, 34) and ds.default_encoder == "frames"
    _, labels = _load_arrays()
    _, te = stratified_split(labels, TEST_FRACTION, SPLIT_SEED)
    assert torch.equal(test.labels, torch.from_numpy(labels[te]))  # MNIST-5k's split and labels
    x, y = test[17]
    assert x.dtype == torch.float32 and tuple(x.shape) == (10, 2, 34, 34) and int(y) == labels[te][17]
    events = dvs_mnist5k.dvs_events(int(te[17]), seed=0)
    expected = reference_counts(events, 34, 34, 10, dvs_mnist5k.COUNT_CAP) / dvs_mnist5k.COUNT_CAP
    np.testing.assert_array_equal(x.numpy(), expected.astype(np.float32))
    assert int(test.counts.max()) <= dvs_mnist5k.COUNT_CAP and test.counts.any(axis=(1, 2, 3, 4)).all()


def test_frames_are_cached_on_disk_and_reloaded_identically(dataset):
    ds, cache = dataset
    first = ds.split("test").counts.copy()
    files = list(cache.glob("seed0-T10-34x34-*-test.npz"))
    assert len(files) == 1 and not list(cache.glob("*-train.npz"))  # only what was asked for
    dvs_mnist5k._counts.cache_clear()
    again = get_dataset("dvs-mnist5k", cache_dir=cache).split("test").counts
    np.testing.assert_array_equal(first, again)
    files[0].write_bytes(b"damaged")
    dvs_mnist5k._counts.cache_clear()
    np.testing.assert_array_equal(first, get_dataset("dvs-mnist5k", cache_dir=cache).split("test").counts)
