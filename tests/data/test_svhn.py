"""SVHN from tiny .mat files written in the real layout (MATLAB 5, X [32, 32, 3, N], y 1..10)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import torch

from snnsec.data import get_dataset
from snnsec.errors import InputError


def write_svhn(path, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
    y = rng.integers(1, 11, size=(n, 1)).astype(np.uint8)  # 10 stands for the digit 0
    y[0, 0] = 10
    scipy.io.savemat(path, {"X": x, "y": y}, format="5")
    return x, y


def test_svhn_reads_images_and_maps_label_10_to_0(tmp_path) -> None:
    x, y = write_svhn(tmp_path / "train_32x32.mat", 7, seed=0)
    xt, yt = write_svhn(tmp_path / "test_32x32.mat", 3, seed=1)
    ds = get_dataset("svhn", tmp_path)
    train, test = ds.split("train"), ds.split("test")
    assert len(train) == 7 and len(test) == 3
    img, label = train[0]
    assert img.shape == (3, 32, 32) and img.dtype == torch.float32 and int(label) == 0
    # pixel (row 5, col 9, green) of sample 2: MATLAB's [H, W, C, N] -> [C, H, W]
    assert float(train[2][0][1, 5, 9]) == pytest.approx(x[5, 9, 1, 2] / 255.0)
    assert [int(train[i][1]) for i in range(7)] == [int(v) % 10 for v in y[:, 0]]
    assert int(test[1][1]) == int(yt[1, 0]) % 10
    assert ds.sample_shape() == (3, 32, 32) and ds.normalization["std"][0] == pytest.approx(0.19803012)


def test_extra_split_joins_train_when_asked(tmp_path) -> None:
    write_svhn(tmp_path / "train_32x32.mat", 4, seed=0)
    write_svhn(tmp_path / "test_32x32.mat", 2, seed=1)
    write_svhn(tmp_path / "extra_32x32.mat", 5, seed=2)
    assert len(get_dataset("svhn", tmp_path).split("train")) == 4
    assert len(get_dataset("svhn", tmp_path, extra=True).split("train")) == 9


def test_missing_and_malformed_files_are_one_line_errors(tmp_path) -> None:
    with pytest.raises(InputError, match=r"SVHN train split not found: expected .*train_32x32\.mat"):
        get_dataset("svhn", tmp_path).split("train")
    scipy.io.savemat(tmp_path / "train_32x32.mat", {"X": np.zeros((28, 28, 1, 2), np.uint8), "y": np.ones((2, 1))})
    with pytest.raises(InputError, match=r"'X' must be uint8 \[32, 32, 3, N\], found uint8 \[28, 28, 1, 2\]"):
        get_dataset("svhn", tmp_path).split("train")
    (tmp_path / "test_32x32.mat").write_bytes(b"garbage, not a MATLAB file")
    with pytest.raises(InputError, match=r"test_32x32\.mat: not a readable MATLAB file"):
        get_dataset("svhn", tmp_path).split("test")
    scipy.io.savemat(tmp_path / "train_32x32.mat", {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[0], [3]])})
    with pytest.raises(InputError, match=r"labels must be 1\.\.10"):
        get_dataset("svhn", tmp_path).split("train")
