"""Offline dataset readers. A new dataset is one file plus one import line here."""

from snnsec.data import cifar  # noqa: F401  (registers cifar10, cifar100, cifar100-coarse)
from snnsec.data import cifar10dvs  # noqa: F401  (registers cifar10-dvs)
from snnsec.data import cifar_sample  # noqa: F401  (registers cifar10-sample, cifar100-sample)
from snnsec.data import dvs_mnist5k  # noqa: F401  (registers dvs-mnist5k)
from snnsec.data import mnist5k  # noqa: F401  (registers the dataset)
from snnsec.data import dvs_gesture, nmnist, svhn  # noqa: F401  (registers dvs-gesture, nmnist, svhn)
from snnsec.data.base import (
    DATASETS,
    SNNDataset,
    TensorSamples,
    dataset_for_model,
    get_dataset,
    register_dataset,
)

__all__ = [
    "DATASETS",
    "SNNDataset",
    "TensorSamples",
    "dataset_for_model",
    "get_dataset",
    "register_dataset",
]
