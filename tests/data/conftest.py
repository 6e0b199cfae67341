"""Fixtures of the data tests: real files in the real formats, written into temporary folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snnsec.data.aedat4_writer import write_synthetic_cifar10dvs


def reference_counts(events: np.ndarray, sensor: int, size: int, T: int, cap: int) -> np.ndarray:
    """Frames computed without tonic: floor-scaled pixels, T equal bins from the first event on."""
    t = events["t"].astype(np.int64)
    width = (t[-1] - t[0]) // T
    bins = (t - t[0]) // width
    keep = bins < T
    x = np.floor(events["x"].astype(np.float64) * size / sensor).astype(int)
    y = np.floor(events["y"].astype(np.float64) * size / sensor).astype(int)
    p = events["p"].astype(int)
    counts = np.zeros((T, 2, size, size), dtype=np.int64)
    np.add.at(counts, (bins[keep], p[keep], y[keep], x[keep]), 1)
    return np.minimum(counts, cap)


@pytest.fixture(scope="session")
def dvs_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[Path, int]]]:
    """A CIFAR10-DVS folder tonic accepts: 1,000 valid AEDAT4 recordings (100 per class) + marker."""
    root = tmp_path_factory.mktemp("cifar10dvs")
    files = write_synthetic_cifar10dvs(root, per_class=100, n_events=300, seed=0)
    return root, files
