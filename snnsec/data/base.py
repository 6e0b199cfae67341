"""The dataset interface: metadata on the class (tonic style), offline readers, no side effects.

A dataset is one file with a :class:`SNNDataset` subclass decorated by :func:`register_dataset`.
Constructors never download and never write outside an explicit cache directory; missing or
malformed files raise :class:`~snnsec.errors.InputError` naming the file expected and where.

Samples are ``(x, y)``: ``x`` float32 in [0, 1] shaped :meth:`SNNDataset.sample_shape`
(``[C, H, W]`` images or ``[T, C, H, W]`` event frames), ``y`` an int64 class id.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch.utils.data import Dataset

from snnsec.errors import InputError, unknown_choice, unknown_option

SPLITS = ("train", "test")


class TensorSamples(Dataset):
    """An in-memory split: ``x`` [N, ...] float32 in [0, 1] and ``y`` [N] int64."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform: Callable[[torch.Tensor], torch.Tensor] | None = None):
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.x[i]
        if self.transform is not None:
            x = self.transform(x)
        return x, self.y[i]


class SNNDataset:
    """Base class of snnsec datasets; subclasses fill in the class attributes and :meth:`split`.

    Attributes:
        name: registry name (CLI ``--dataset``).
        classes: class names, index = label.
        kind: ``"image"`` (direct/Poisson encoders) or ``"frames"`` (event frames).
        normalization: per-channel ``{"mean", "std"}`` for the direct encoder, or None.
        needs_data_dir: whether the user must provide ``--data-dir``.
        default_eps: the conventional L-inf attack budget on this dataset's inputs, as written
            (paper Table 2: ``8/255`` on CIFAR, ``0.02`` on preprocessed DVS frames).
        sizes: number of samples per split, e.g. ``{"train": 50000, "test": 10000}``.
        layout: where the files go, shown by ``snnsec datasets list``.
        description, citation, url: shown by ``snnsec datasets list`` and in the manifests.
    """

    name: ClassVar[str] = ""
    classes: ClassVar[tuple[str, ...]] = ()
    kind: ClassVar[str] = "image"
    normalization: ClassVar[dict[str, list[float]] | None] = None
    needs_data_dir: ClassVar[bool] = True
    default_eps: ClassVar[str] = "8/255"
    sizes: ClassVar[dict[str, int]] = {}
    layout: ClassVar[str] = ""
    description: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    url: ClassVar[str] = ""

    def __init__(self, data_dir: str | Path | None = None, **options: Any) -> None:
        given = sorted(k for k, v in options.items() if v is not None)
        if given:  # subclasses take their options as keywords; what reaches here is unknown
            raise unknown_option(f"dataset {self.name!r}", given[0], self.option_names())
        if self.needs_data_dir and data_dir is None:
            raise InputError(f"dataset {self.name!r} needs --data-dir (see `snnsec datasets list`)")
        self.data_dir = Path(data_dir) if data_dir is not None else None

    @classmethod
    def option_names(cls) -> list[str]:
        """The keyword options this dataset takes (``T``, ``size``, ``augment``, ...)."""
        import inspect

        params = inspect.signature(cls.__init__).parameters.values()
        return sorted(p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in ("self", "data_dir"))

    @property
    def default_encoder(self) -> str:
        return "frames" if self.kind == "frames" else "direct"

    def sample_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def split(self, split: str) -> Dataset:
        """The ``train`` or ``test`` split as a torch Dataset of ``(x, y)``."""
        raise NotImplementedError

    def check_split(self, split: str) -> None:
        if split not in SPLITS:
            raise unknown_choice("split", split, SPLITS)

    def summary(self) -> dict[str, Any]:
        """What ``snnsec datasets check`` reports (reads the files, so it validates them)."""
        train, test = self.split("train"), self.split("test")
        return {
            "dataset": self.name,
            "samples": {"train": len(train), "test": len(test)},
            "classes": len(self.classes),
            "class_names": list(self.classes),
            "sample_shape": list(self.sample_shape()),
        }


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test), each sorted: per class, a ``seed``-permuted ``test_fraction`` goes to test."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(idx) * test_fraction))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


SAMPLE_SEED = 0


def sample_indices(length: int, n: int | None = None) -> torch.Tensor:
    """Positions of the ``n`` samples to attack, evaluate or deploy in a split of ``length``.

    The first ``n`` of one fixed permutation (seed 0): the same samples for every run and every
    ``--seed``, and a fair mix of classes even when a split is stored sorted by label.
    """
    total = length if n is None else min(int(n), length)
    return torch.randperm(length, generator=torch.Generator().manual_seed(SAMPLE_SEED))[:total]


def stack_samples(data: Dataset, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The samples at ``index`` as one batch: ``x`` float32 ``[N, ...]`` and ``y`` int64 ``[N]``."""
    items = [data[int(i)] for i in index]
    if not items:
        raise InputError("no samples selected (n = 0)")
    x = torch.stack([torch.as_tensor(item[0], dtype=torch.float32) for item in items])
    y = torch.as_tensor([int(item[1]) for item in items], dtype=torch.int64)
    return x, y


DATASETS: dict[str, type[SNNDataset]] = {}


def register_dataset(cls: type[SNNDataset]) -> type[SNNDataset]:
    DATASETS[cls.name] = cls
    return cls


def get_dataset(name: str, data_dir: str | Path | None = None, **options: Any) -> SNNDataset:
    """Instantiate a registered dataset by name."""
    if name not in DATASETS:
        raise unknown_choice("dataset", name, DATASETS)
    return DATASETS[name](data_dir, **options)


def dataset_for_model(meta: Any, name: str | None = None, data_dir: str | Path | None = None) -> SNNDataset:
    """The dataset to evaluate or attack a model on: ``name``, else the one the model was trained on.

    Event-frame datasets are binned into the model's T time steps at its frame size, so samples
    match ``meta.input_shape``.
    """
    name = name or getattr(meta, "dataset", None)
    if name is None:
        raise InputError("the model file does not record its dataset; pass --dataset")
    if name not in DATASETS:
        raise unknown_choice("dataset", name, DATASETS)
    options: dict[str, Any] = {}
    if DATASETS[name].kind == "frames" and len(meta.input_shape) == 4:
        options = {"T": int(meta.input_shape[0]), "size": int(meta.input_shape[-1])}
    return get_dataset(name, data_dir, **options)
