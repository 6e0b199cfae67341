"""Offline dataset readers. A new dataset is one file plus one import line here."""

from snnsec.data import mnist5k  # noqa: F401  (registers the dataset)
from snnsec.data.base import DATASETS, SNNDataset, TensorSamples, get_dataset, register_dataset

__all__ = ["DATASETS", "SNNDataset", "TensorSamples", "get_dataset", "register_dataset"]
