"""CIFAR-10/100 samples: 20 real test-set images each, read offline from foolbox's wheel.

The PyPI package foolbox (3.3.4, installed with ``--no-deps``) ships real CIFAR images as PNG files
for its ``samples()`` helper::

    <site-packages>/foolbox/data/cifar10_<ii>_<label>.png     (ii = 00..19, 32x32 RGB)
    <site-packages>/foolbox/data/cifar100_<ii>_<label>.png    (fine labels 0..99)

snnsec locates that folder without importing foolbox (whose import needs eagerpy) and decodes the
PNGs with Pillow. The label is the number at the end of the file name. These datasets have only a
``test`` split of 20 images: enough to attack, evaluate and deploy a CIFAR model on real images
with no download, not to train one.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from snnsec.data.base import SNNDataset, TensorSamples, register_dataset
from snnsec.data.cifar import CIFAR10, CIFAR100, CIFAR_CITATION
from snnsec.data.notfound import DatasetNotFound
from snnsec.errors import InputError

SAMPLES = 20


def foolbox_data_dir() -> Path:
    """``foolbox/data`` inside the installed foolbox package (found without importing it)."""
    spec = importlib.util.find_spec("foolbox")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetNotFound(
            "the CIFAR samples ship inside the foolbox package, which is not installed "
            "(pip install --no-deps foolbox==3.3.4)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def read_png(path: Path) -> np.ndarray:
    """A 32x32 RGB PNG as uint8 ``[3, 32, 32]``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as exc:
        raise InputError(f"{path}: not a readable PNG image ({exc})") from None
    if rgb.shape != (32, 32, 3):
        raise InputError(f"{path}: expected a 32x32 RGB image, got shape {list(rgb.shape)}")
    return rgb.transpose(2, 0, 1).copy()


@functools.lru_cache(maxsize=4)
def load_samples(folder: Path, prefix: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 ``[20, 3, 32, 32]`` and labels int64 ``[20]`` of ``<prefix>_<ii>_<label>.png``."""
    pattern = re.compile(rf"^{re.escape(prefix)}_(\d\d)_(\d+)\.png$")
    found: dict[int, tuple[Path, int]] = {}
    if folder.is_dir():
        for path in folder.iterdir():
            m = pattern.match(path.name)
            if m:
                found[int(m.group(1))] = (path, int(m.group(2)))
    missing = [i for i in range(SAMPLES) if i not in found]
    if missing:
        raise DatasetNotFound(
            f"expected {SAMPLES} files {folder}/{prefix}_<00..19>_<label>.png, "
            f"missing index {missing[0]:02d} ({len(missing)} missing)"
        )
    images, labels = [], []
    for i in range(SAMPLES):
        path, label = found[i]
        if not 0 <= label < num_classes:
            raise InputError(f"{path}: label {label} out of range for {num_classes} classes")
        images.append(read_png(path))
        labels.append(label)
    return np.stack(images), np.asarray(labels, dtype=np.int64)


class _CIFARSample(SNNDataset):
    """20 real test images of a CIFAR dataset, embedded in the foolbox wheel."""

    prefix: ClassVar[str] = ""
    kind = "image"
    needs_data_dir = False
    default_eps = "8/255"
    sizes = {"train": 0, "test": SAMPLES}  # no train split: split("train") is refused
    citation = CIFAR_CITATION
    url = "https://pypi.org/project/foolbox/3.3.4/"

    def __init__(self, data_dir: str | Path | None = None, **options: Any) -> None:
        super().__init__(data_dir, **options)

    def sample_shape(self) -> tuple[int, ...]:
        return (3, 32, 32)

    def split(self, split: str) -> TensorSamples:
        self.check_split(split)
        if split != "test":
            raise InputError(
                f"dataset {self.name!r} holds only {SAMPLES} test images (split 'test'); "
                f"train on the full dataset instead"
            )
        images, labels = load_samples(foolbox_data_dir(), self.prefix, len(self.classes))
        x = torch.from_numpy(np.divide(images, np.float32(255.0), dtype=np.float32))
        return TensorSamples(x, torch.from_numpy(labels))

    def summary(self) -> dict[str, Any]:
        test = self.split("test")
        return {
            "dataset": self.name,
            "samples": {"train": 0, "test": len(test)},
            "classes": len(self.classes),
            "class_names": list(self.classes),
            "sample_shape": list(self.sample_shape()),
            "folder": str(foolbox_data_dir()),
        }


@register_dataset
class CIFAR10Sample(_CIFARSample):
    name = "cifar10-sample"
    prefix = "cifar10"
    classes = CIFAR10.classes
    normalization = CIFAR10.normalization
    description = "20 real CIFAR-10 test images shipped as PNGs in the foolbox wheel (test split only)"
    layout = "nothing to download: foolbox/data/cifar10_<ii>_<label>.png inside the foolbox package"


@register_dataset
class CIFAR100Sample(_CIFARSample):
    name = "cifar100-sample"
    prefix = "cifar100"
    classes = CIFAR100.classes
    normalization = CIFAR100.normalization
    description = "20 real CIFAR-100 test images (fine labels) shipped as PNGs in the foolbox wheel (test split only)"
    layout = "nothing to download: foolbox/data/cifar100_<ii>_<label>.png inside the foolbox package"
