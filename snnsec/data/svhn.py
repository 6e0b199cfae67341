"""SVHN (Street View House Numbers, cropped digits) read from its official ``.mat`` files.

Expected layout under ``--data-dir D`` (http://ufldl.stanford.edu/housenumbers/, "Format 2")::

    D/train_32x32.mat     73,257 digits
    D/test_32x32.mat      26,032 digits
    D/extra_32x32.mat     531,131 digits (optional; used only with ``extra=True``)

(``D/svhn/`` is accepted too). Each file is a MATLAB 5 file read with ``scipy.io.loadmat``, which
parses arrays only and never runs code: ``X`` is uint8 ``[32, 32, 3, N]`` (height, width, RGB,
sample) and ``y`` is ``[N, 1]`` with labels 1..10, where **10 stands for the digit 0**; snnsec maps
it to class 0. Samples are float32 ``[3, 32, 32]`` in [0, 1]; ``normalization`` holds the paper
reference code's SVHN constants.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from snnsec.data.base import SNNDataset, register_dataset
from snnsec.data.cifar import ImageSamples
from snnsec.data.notfound import DatasetNotFound
from snnsec.errors import InputError

FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat", "extra": "extra_32x32.mat"}


def read_svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 ``[N, 3, 32, 32]`` and labels int64 ``[N]`` (0..9) of one SVHN ``.mat`` file."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(path, variable_names=["X", "y"])
    except (ValueError, TypeError, OSError, IndexError, NotImplementedError, scipy.io.matlab.MatReadError) as exc:
        raise InputError(f"{path}: not a readable MATLAB file ({type(exc).__name__}: {exc})") from None
    x, y = mat.get("X"), mat.get("y")
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        got = f"{x.dtype} {list(x.shape)}" if isinstance(x, np.ndarray) else "nothing"
        raise InputError(f"{path}: 'X' must be uint8 [32, 32, 3, N], found {got}")
    if not isinstance(y, np.ndarray) or y.size != x.shape[3]:
        raise InputError(f"{path}: expected {x.shape[3]} labels in 'y' (one per image), found "
                         f"{y.size if isinstance(y, np.ndarray) else 'none'}")
    labels = y.reshape(-1).astype(np.int64)
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise InputError(f"{path}: labels must be 1..10 (10 = digit 0), found {int(labels.min())}..{int(labels.max())}")
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), labels % 10


@register_dataset
class SVHN(SNNDataset):
    name = "svhn"
    classes = tuple(str(d) for d in range(10))
    kind = "image"
    normalization = {"mean": [0.4376821, 0.4437697, 0.47280442], "std": [0.19803012, 0.20101562, 0.19703614]}
    needs_data_dir = True
    default_eps = "8/255"
    sizes = {"train": 73257, "test": 26032}
    layout = "D/train_32x32.mat, D/test_32x32.mat (and optionally D/extra_32x32.mat)"
    description = "SVHN cropped digits: 32x32 colour house numbers in 10 classes (73,257 train / 26,032 test)"
    citation = (
        "Y. Netzer, T. Wang, A. Coates, A. Bissacco, B. Wu, A. Y. Ng. Reading Digits in Natural Images with "
        "Unsupervised Feature Learning. NIPS Workshop on Deep Learning and Unsupervised Feature Learning, 2011."
    )
    url = "http://ufldl.stanford.edu/housenumbers/"

    def __init__(self, data_dir: str | Path | None = None, extra: bool = False, **options: Any) -> None:
        super().__init__(data_dir, **options)
        self.extra = bool(extra)
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def sample_shape(self) -> tuple[int, ...]:
        return (3, 32, 32)

    def locate(self, part: str) -> Path:
        root = Path(self.data_dir or ".")
        for folder in (root, root / "svhn"):
            if (folder / FILES[part]).is_file():
                return folder / FILES[part]
        raise DatasetNotFound(f"SVHN {part} split not found: expected {root / FILES[part]}")

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        self.check_split(split)
        if split not in self._arrays:
            parts = ["train", "extra"] if split == "train" and self.extra else [split]
            read = [read_svhn_mat(self.locate(p)) for p in parts]
            self._arrays[split] = (np.concatenate([r[0] for r in read]), np.concatenate([r[1] for r in read]))
        return self._arrays[split]

    def split(self, split: str) -> ImageSamples:
        images, labels = self.arrays(split)
        return ImageSamples(images, labels)
