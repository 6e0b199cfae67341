"""CIFAR10-DVS through tonic's real reader on 1,000 valid AEDAT4 files, frames and cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from tonic.io import read_aedat4

from snnsec.data import get_dataset
from snnsec.data.aedat4_writer import write_synthetic_cifar10dvs
from snnsec.data.cifar10dvs import CLASSES, _offline_reader_class
from snnsec.data.notfound import DatasetNotFound
from snnsec.errors import InputError
from tests.data.conftest import reference_counts


def _file_of(ds, split: str, i: int) -> Path:
    """The recording behind sample ``i`` of ``split`` (recordings are indexed in path order)."""
    from snnsec.data.base import stratified_split
    from snnsec.data.cifar10dvs import TEST_FRACTION

    order, labels, _ = ds._index
    train, test = stratified_split(labels, TEST_FRACTION, ds.split_seed)
    return Path(ds.reader.data[order[(train if split == "train" else test)[i]]])


def test_frames_shapes_labels_and_values(dvs_dir, tmp_path):
    root, _ = dvs_dir
    ds = get_dataset("cifar10-dvs", root, cache_dir=tmp_path / "cache")
    train, test = ds.split("train"), ds.split("test")
    assert (len(train), len(test)) == (900, 100)
    assert ds.sample_shape() == (10, 2, 48, 48)
    for split, samples in (("train", train), ("test", test)):
        for i in (0, len(samples) - 1):
            x, y = samples[i]
            assert x.dtype == torch.float32 and tuple(x.shape) == (10, 2, 48, 48)
            assert y.dtype == torch.int64
            path = _file_of(ds, split, i)
            assert CLASSES[int(y)] == path.parent.name  # label = class folder
            events = read_aedat4(str(path))
            events.dtype.names = ["t", "x", "y", "p"]
            expected = reference_counts(events, sensor=128, size=48, T=10, cap=16) / 16
            np.testing.assert_array_equal(x.numpy(), expected.astype(np.float32))
    counts = np.bincount(test.labels.numpy(), minlength=10)
    assert counts.tolist() == [10] * 10  # stratified 9:1


def test_split_is_seeded(dvs_dir, tmp_path):
    root, _ = dvs_dir

    def test_files(seed: int) -> set[Path]:
        ds = get_dataset("cifar10-dvs", root, split_seed=seed, cache_dir=tmp_path)
        return {_file_of(ds, "test", i) for i in range(len(ds.split("test")))}

    def train_files(seed: int) -> set[Path]:
        ds = get_dataset("cifar10-dvs", root, split_seed=seed, cache_dir=tmp_path)
        return {_file_of(ds, "train", i) for i in range(len(ds.split("train")))}

    a, b, c = test_files(0), test_files(0), test_files(1)
    assert a == b and a != c
    assert not a & train_files(0) and len(a | train_files(0)) == 1000


def test_T_and_size_options_rebin(dvs_dir, tmp_path):
    root, _ = dvs_dir
    ds = get_dataset("cifar10-dvs", root, T=4, size=32, cache_dir=tmp_path)
    x, _ = ds.split("test")[3]
    assert tuple(x.shape) == ds.sample_shape() == (4, 2, 32, 32)
    events = read_aedat4(str(_file_of(ds, "test", 3)))
    events.dtype.names = ["t", "x", "y", "p"]
    np.testing.assert_array_equal(x.numpy(), (reference_counts(events, 128, 32, 4, 16) / 16).astype(np.float32))


def test_cache_is_used_and_refreshed_when_a_recording_changes(dvs_dir, tmp_path):
    root, _ = dvs_dir
    cache = tmp_path / "cache"
    first = get_dataset("cifar10-dvs", root, cache_dir=cache)
    x0, _ = first.split("test")[0]
    entries = list(cache.glob("T10-48x48-*/*/*.u8"))
    assert len(entries) == 1 and (cache / entries[0].parent.parent.name / "spec.json").is_file()

    path = _file_of(first, "test", 0)
    original, stat = path.read_bytes(), path.stat()
    try:
        path.write_bytes(b"not an AEDAT4 file")
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10**9))  # older than the cache entry
        x1, _ = get_dataset("cifar10-dvs", root, cache_dir=cache).split("test")[0]
        assert torch.equal(x0, x1), "a fresh cache entry must be used without reading the events"
        os.utime(path, None)  # the recording is now newer than its cache entry
        with pytest.raises(InputError, match=f"cannot read {path} as AEDAT4 events"):
            get_dataset("cifar10-dvs", root, cache_dir=cache).split("test")[0]
    finally:
        path.write_bytes(original)


def test_default_cache_lives_under_the_data_dir_outside_tonics_folder(dvs_dir):
    root, _ = dvs_dir
    ds = get_dataset("cifar10-dvs", root)
    ds.split("train")[5]
    assert ds.cache.dir.parent == root / ".snnsec-cache" / "cifar10-dvs"
    assert len(list(ds.cache.dir.glob("*/*.u8"))) == 1


def test_empty_folder_names_the_expected_path(tmp_path):
    with pytest.raises(DatasetNotFound, match=f"expected {tmp_path / 'CIFAR10DVS' / 'airplane'}/\\*.aedat4"):
        get_dataset("cifar10-dvs", tmp_path).split("train")


def test_missing_marker_would_make_tonic_download(dvs_dir):
    root, _ = dvs_dir
    marker = root / "CIFAR10DVS" / "CIFAR10DVS.zip"
    marker.rename(root / "moved.zip")
    try:
        with pytest.raises(InputError, match=f"expected {marker} \\(tonic downloads the dataset unless"):
            get_dataset("cifar10-dvs", root).split("train")
    finally:
        (root / "moved.zip").rename(marker)


def test_too_few_recordings_would_make_tonic_download(tmp_path):
    write_synthetic_cifar10dvs(tmp_path, per_class=3, n_events=10)
    with pytest.raises(InputError, match="found 30 .aedat4 files .* expected at least 1000"):
        get_dataset("cifar10-dvs", tmp_path).split("train")


def test_dataset_folder_given_instead_of_its_parent(dvs_dir):
    root, _ = dvs_dir
    with pytest.raises(InputError, match=f"pass its parent: --data-dir {root}$"):
        get_dataset("cifar10-dvs", root / "CIFAR10DVS").split("train")


def test_recording_outside_a_class_folder_is_named(dvs_dir):
    root, _ = dvs_dir
    stray = root / "CIFAR10DVS" / "spaceship" / "x.aedat4"
    stray.parent.mkdir()
    stray.write_bytes(b"")
    try:
        with pytest.raises(InputError, match=f"{stray} is not in a class folder"):
            get_dataset("cifar10-dvs", root).split("train")
    finally:
        stray.unlink()
        stray.parent.rmdir()


def test_tonic_reader_never_downloads(tmp_path):
    reader = _offline_reader_class()
    with pytest.raises(InputError, match="snnsec never downloads"):
        reader(save_to=str(tmp_path))
    assert not (tmp_path / "CIFAR10DVS" / "CIFAR10DVS.zip").exists()
