"""CIFAR-10/100 readers on tiny files in the official binary and python formats."""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

from snnsec.data import get_dataset
from snnsec.data.cifar import Augment, RestrictedUnpickler, load_restricted
from snnsec.data.notfound import DatasetNotFound
from snnsec.errors import InputError
from tests.data.formats import (
    py2_pickle,
    write_cifar10_binary,
    write_cifar10_python,
    write_cifar100_binary,
    write_cifar100_python,
)


def _as_uint8(split) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*(split[i] for i in range(len(split))))
    x = torch.stack(xs)
    assert x.dtype == torch.float32 and x.shape[1:] == (3, 32, 32)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    y = torch.stack(ys)
    assert y.dtype == torch.int64
    return (x * 255).round().to(torch.uint8).numpy(), y.numpy()


@pytest.mark.parametrize("writer", [write_cifar10_binary, write_cifar10_python], ids=["binary", "python"])
def test_cifar10_releases(tmp_path, writer):
    truth = writer(tmp_path, per_batch=7, n_test=5, seed=1)
    ds = get_dataset("cifar10", tmp_path)
    for split, n in (("train", 35), ("test", 5)):
        images, labels = _as_uint8(ds.split(split))
        assert len(labels) == n
        np.testing.assert_array_equal(images, truth[split][0])  # channel planes R, G, B in order
        np.testing.assert_array_equal(labels, truth[split][1])
    assert ds.sample_shape() == (3, 32, 32) and len(ds.classes) == 10
    assert ds.normalization["mean"] == pytest.approx([0.4914, 0.4822, 0.4465])


@pytest.mark.parametrize("writer", [write_cifar100_binary, write_cifar100_python], ids=["binary", "python"])
def test_cifar100_fine_and_coarse_labels(tmp_path, writer):
    truth = writer(tmp_path, n_train=9, n_test=4, seed=2)
    fine, coarse = get_dataset("cifar100", tmp_path), get_dataset("cifar100-coarse", tmp_path)
    assert len(fine.classes) == 100 and len(coarse.classes) == 20
    for split in ("train", "test"):
        images, labels = _as_uint8(fine.split(split))
        np.testing.assert_array_equal(images, truth[split][0])
        np.testing.assert_array_equal(labels, truth[split][2])
        _, coarse_labels = _as_uint8(coarse.split(split))
        np.testing.assert_array_equal(coarse_labels, truth[split][1])


def test_real_python_release_layout_is_a_python2_pickle(tmp_path):
    write_cifar10_python(tmp_path, per_batch=2, n_test=2)
    raw = (tmp_path / "cifar-10-batches-py" / "data_batch_1").read_bytes()
    assert raw.startswith(b"\x80\x02}q\x00(U") and b"_codecs" not in raw  # as written by Python 2's cPickle


def test_empty_folder_names_both_expected_files(tmp_path):
    with pytest.raises(DatasetNotFound) as err:
        get_dataset("cifar10", tmp_path).split("train")
    message = str(err.value)
    assert str(tmp_path / "cifar-10-batches-bin" / "data_batch_1.bin") in message
    assert str(tmp_path / "cifar-10-batches-py" / "data_batch_1") in message


def test_missing_batch_is_named(tmp_path):
    write_cifar10_binary(tmp_path, per_batch=2, n_test=2)
    (tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin").unlink()
    with pytest.raises(InputError, match="expected .*data_batch_3.bin"):
        get_dataset("cifar10", tmp_path).split("test")


def test_truncated_binary_file_is_refused(tmp_path):
    write_cifar100_binary(tmp_path, n_train=3, n_test=2)
    path = tmp_path / "cifar-100-binary" / "test.bin"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(InputError, match=r"test\.bin: 6138 bytes is not a whole number of 3074-byte CIFAR records"):
        get_dataset("cifar100", tmp_path).split("test")


def test_label_out_of_range_is_refused(tmp_path):
    write_cifar10_binary(tmp_path, per_batch=2, n_test=2)
    path = tmp_path / "cifar-10-batches-bin" / "test_batch.bin"
    raw = bytearray(path.read_bytes())
    raw[0] = 10
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="label 10 out of range for 10 CIFAR-10 classes"):
        get_dataset("cifar10", tmp_path).split("test")


def test_unextracted_archive_gets_the_tar_command(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b")
    with pytest.raises(InputError, match="tar xzf"):
        get_dataset("cifar10", tmp_path).split("train")


class _Payload:
    """Unpickling this calls ``open(marker, "w")``, which creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_restricted_unpickler_refuses_code_execution(tmp_path, protocol):
    live = tmp_path / "live-marker"
    pickle.loads(pickle.dumps({b"data": _Payload(live)}, protocol=protocol))
    assert live.exists(), "the payload must really run code when loaded with plain pickle"

    marker = tmp_path / "marker"
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batch = {b"data": _Payload(marker), b"labels": [0]}
    evil = py2_pickle(batch) if protocol == 2 else pickle.dumps(batch, protocol=protocol)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(evil)
    with pytest.raises(InputError, match=r"refused to unpickle \(global '(__builtin__|builtins|io)\.open' is forbidden\)"):
        get_dataset("cifar10", tmp_path).split("train")
    assert not marker.exists(), "the restricted unpickler ran the payload"


def test_restricted_unpickler_refuses_harmless_foreign_classes(tmp_path):
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps(OrderedDict(data=1), protocol=2))
    with pytest.raises(InputError, match="collections.OrderedDict"):
        load_restricted(path)
    # what the real files need still loads
    arr = np.arange(6, dtype=np.uint8)
    out = RestrictedUnpickler(io.BytesIO(py2_pickle({b"data": arr}))).load()
    np.testing.assert_array_equal(out["data"], arr)


def test_augmentation_is_seeded_crops_flips_and_cuts_out():
    img = torch.rand(3, 32, 32)
    aug = Augment(fill=[0.5, 0.25, 0.75])
    torch.manual_seed(3)
    a = [aug(img) for _ in range(8)]
    torch.manual_seed(3)
    b = [aug(img) for _ in range(8)]
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert all(u.shape == img.shape for u in a)
    assert any(not torch.equal(u, img) for u in a)
    cut = Augment(fill=[0.5, 0.25, 0.75], padding=0)(torch.ones(3, 32, 32))
    holes = cut[0] == 0.5
    assert 16 <= int(holes.sum()) <= 256  # one 16x16 square, clipped at the border
    assert torch.all(cut[1][holes] == 0.25) and torch.all(cut[2][holes] == 0.75)
    assert torch.all(cut[0][~holes] == 1.0)


def test_augment_option_applies_to_training_split_only(tmp_path):
    write_cifar10_binary(tmp_path, per_batch=2, n_test=2)
    ds = get_dataset("cifar10", tmp_path, augment=True)
    assert ds.split("train").transform is not None
    assert ds.split("test").transform is None
    assert get_dataset("cifar10", tmp_path).split("train").transform is None
