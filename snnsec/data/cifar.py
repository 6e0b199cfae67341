"""CIFAR-10 and CIFAR-100 read from the official releases in ``--data-dir``, without torchvision.

Expected layout (extract the archive from https://www.cs.toronto.edu/~kriz/cifar.html into D;
either release works, the binary one is preferred when both are present)::

    D/cifar-10-batches-bin/data_batch_1.bin ... data_batch_5.bin, test_batch.bin   (binary)
    D/cifar-10-batches-py/data_batch_1 ... data_batch_5, test_batch                  (python)
    D/cifar-100-binary/train.bin, test.bin                                            (binary)
    D/cifar-100-python/train, test                                                    (python)

**Binary releases** are raw records: CIFAR-10 ``<1 label byte><3072 pixel bytes>``, CIFAR-100
``<coarse label byte><fine label byte><3072 pixel bytes>``; pixels are the 1024 red, then green,
then blue values of a 32x32 image, row-major. **Python releases** are Python-2 pickles of dicts
(``data``: uint8 array [N, 3072] in the same order; ``labels`` or ``fine_labels`` and
``coarse_labels``: lists of ints). They are only ever read through :class:`RestrictedUnpickler`,
which resolves exactly the three globals a pickled numpy array needs and refuses every other one,
so a tampered file cannot run code.

``cifar100`` uses the 100 fine labels, ``cifar100-coarse`` the 20 superclasses of the same files.
The splits are the official ones (50,000 train / 10,000 test). ``normalization`` holds the usual
per-channel mean and std of the training images; the direct encoder applies it, samples stay in
[0, 1]. ``split("train", augment=True)`` (or the dataset option ``augment=True``) adds the paper's
training augmentation: random 32x32 crop of the 4-pixel zero-padded image, horizontal flip, and
Cutout (one 16x16 square set to the mean colour, i.e. 0 after normalisation).
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch.utils.data import Dataset

from snnsec.data.base import SNNDataset, register_dataset
from snnsec.data.notfound import DatasetNotFound
from snnsec.errors import InputError

PIXELS = 3 * 32 * 32

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR100_FINE = tuple(
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel "
    "can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur "
    "dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion "
    "lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree "
    "pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea "
    "seal shark shrew skunk skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table "
    "tank telephone television tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman "
    "worm".split()
)
CIFAR100_COARSE = tuple(
    "aquatic_mammals fish flowers food_containers fruit_and_vegetables household_electrical_devices "
    "household_furniture insects large_carnivores large_man-made_outdoor_things large_natural_outdoor_scenes "
    "large_omnivores_and_herbivores medium_mammals non-insect_invertebrates people reptiles small_mammals "
    "trees vehicles_1 vehicles_2".split()
)
CIFAR_CITATION = "A. Krizhevsky. Learning Multiple Layers of Features from Tiny Images. Tech. report, U. Toronto, 2009."
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"


# -- restricted unpickling ------------------------------------------------------------------------

# What ``pickle`` needs to rebuild a numpy array (numpy < 2 and numpy >= 2 module names), and nothing else.
ALLOWED_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
})


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, bytes, numbers and numpy arrays; refuses every other global.

    A pickle can only call what ``find_class`` hands it, so refusing all globals but the array
    constructors means loading cannot import modules or run code. Python 2 strings are decoded as
    latin-1, which is how numpy expects the raw bytes of Python 2 array pickles.
    """

    def __init__(self, file: io.BufferedIOBase) -> None:
        super().__init__(file, encoding="latin1")

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global '{module}.{name}' is forbidden")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are forbidden")


def load_restricted(path: str | Path) -> Any:
    """Load a pickle file with :class:`RestrictedUnpickler`; refusals become :class:`InputError`."""
    try:
        with open(path, "rb") as fh:
            return RestrictedUnpickler(fh).load()
    except pickle.UnpicklingError as exc:
        raise InputError(
            f"{path}: refused to unpickle ({exc}); CIFAR python batches hold only dicts, lists, strings and "
            "numpy arrays"
        ) from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as exc:
        raise InputError(f"{path}: not a readable CIFAR python batch ({type(exc).__name__}: {exc})") from None


def _str_keys(obj: Any, path: Path) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise InputError(f"{path}: expected a pickled dict (CIFAR python batch), got {type(obj).__name__}")
    return {(k.decode("latin1") if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}


def read_python_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 3, 32, 32] and labels int64 [N] of one python-release batch file."""
    batch = _str_keys(load_restricted(path), path)
    data, labels = batch.get("data"), batch.get(label_key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        got = f"{data.dtype} {list(data.shape)}" if isinstance(data, np.ndarray) else type(data).__name__
        raise InputError(f"{path}: 'data' must be a uint8 array [N, {PIXELS}], got {got}")
    if not isinstance(labels, (list, np.ndarray)) or len(labels) != len(data):
        raise InputError(f"{path}: expected {len(data)} '{label_key}' (one per image), found {type(labels).__name__}")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def read_binary_batch(path: Path, label_bytes: int, label_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 3, 32, 32] and labels int64 [N] of one binary-release file."""
    record = label_bytes + PIXELS
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % record:
        raise InputError(
            f"{path}: {raw.size} bytes is not a whole number of {record}-byte CIFAR records "
            f"({label_bytes} label byte(s) + {PIXELS} pixel bytes)"
        )
    rows = raw.reshape(-1, record)
    return rows[:, label_bytes:].reshape(-1, 3, 32, 32), rows[:, label_index].astype(np.int64)


# -- augmentation ---------------------------------------------------------------------------------


class Augment:
    """Random crop (zero padding 4), horizontal flip and Cutout, on one image [3, H, W] in [0, 1].

    Uses torch's global RNG, which ``snnsec.training`` seeds.
    """

    def __init__(self, fill: list[float], padding: int = 4, cutout: int = 16) -> None:
        self.fill = torch.tensor(fill, dtype=torch.float32).view(-1, 1, 1)
        self.padding, self.cutout = padding, cutout

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        _, h, w = x.shape
        p = self.padding
        padded = torch.nn.functional.pad(x, (p, p, p, p))
        top, left = (int(v) for v in torch.randint(0, 2 * p + 1, (2,)))
        x = padded[:, top : top + h, left : left + w]
        if bool(torch.rand(()) < 0.5):
            x = x.flip(-1)
        if self.cutout > 0:
            cy, cx = int(torch.randint(0, h, ())), int(torch.randint(0, w, ()))
            half = self.cutout // 2
            y0, y1, x0, x1 = max(0, cy - half), min(h, cy + half), max(0, cx - half), min(w, cx + half)
            x = x.clone()
            x[:, y0:y1, x0:x1] = self.fill
        return x


class ImageSamples(Dataset):
    """uint8 images [N, 3, 32, 32] kept compact in memory; yields float32 in [0, 1] and int64 labels."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Augment | None = None) -> None:
        self.images, self.labels = np.ascontiguousarray(images), torch.from_numpy(labels)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(np.divide(self.images[i], np.float32(255.0), dtype=np.float32))
        return (self.transform(x) if self.transform is not None else x), self.labels[i]


# -- datasets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """One official release: its folder, format, files per split and archive name."""

    folder: str
    fmt: str  # "binary" | "python"
    train: tuple[str, ...]
    test: tuple[str, ...]
    archive: str


_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_RELEASES = (
    Release("cifar-10-batches-bin", "binary", tuple(f"{b}.bin" for b in _BATCHES), ("test_batch.bin",), "cifar-10-binary.tar.gz"),
    Release("cifar-10-batches-py", "python", _BATCHES, ("test_batch",), "cifar-10-python.tar.gz"),
)
CIFAR100_RELEASES = (
    Release("cifar-100-binary", "binary", ("train.bin",), ("test.bin",), "cifar-100-binary.tar.gz"),
    Release("cifar-100-python", "python", ("train",), ("test",), "cifar-100-python.tar.gz"),
)


class _CIFAR(SNNDataset):
    """Shared reader; subclasses say which releases, labels and names apply."""

    title: ClassVar[str] = ""
    releases: ClassVar[tuple[Release, ...]] = ()
    label_key: ClassVar[str] = ""  # python release
    label_bytes: ClassVar[int] = 1  # binary release: label bytes per record ...
    label_index: ClassVar[int] = 0  # ... and which of them is this dataset's label
    kind = "image"
    needs_data_dir = True
    citation = CIFAR_CITATION
    url = CIFAR_URL
    sizes = {"train": 50000, "test": 10000}

    def __init__(self, data_dir: str | Path | None = None, augment: bool = False, **options: Any) -> None:
        super().__init__(data_dir, **options)
        self.augment = bool(augment)
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def sample_shape(self) -> tuple[int, ...]:
        return (3, 32, 32)

    def locate(self) -> tuple[Release, Path]:
        """The release found under the data dir (binary first) and its folder."""
        root = Path(self.data_dir or ".")
        for release in self.releases:
            for folder in (root / release.folder, root if root.name == release.folder else None):
                if folder is not None and folder.is_dir():
                    for name in release.train + release.test:
                        if not (folder / name).is_file():
                            raise InputError(f"{self.title} {release.fmt} release incomplete: expected {folder / name}")
                    return release, folder
        for release in self.releases:
            if (root / release.archive).is_file():
                raise InputError(
                    f"found {root / release.archive} but not {root / release.folder}/; extract it: "
                    f"tar xzf {root / release.archive} -C {root}"
                )
        first, second = self.releases
        raise DatasetNotFound(
            f"{self.title} not found: expected {root / first.folder / first.train[0]} ({first.fmt} release) "
            f"or {root / second.folder / second.train[0]} ({second.fmt} release)"
        )

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Images uint8 [N, 3, 32, 32] and labels int64 [N] of a split (read once, then kept)."""
        self.check_split(split)
        if split not in self._arrays:
            release, folder = self.locate()
            parts = []
            for name in release.train if split == "train" else release.test:
                path = folder / name
                if release.fmt == "binary":
                    parts.append(read_binary_batch(path, self.label_bytes, self.label_index))
                else:
                    parts.append(read_python_batch(path, self.label_key))
                labels = parts[-1][1]
                if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
                    raise InputError(
                        f"{path}: label {int(labels.max())} out of range for {len(self.classes)} {self.title} classes"
                    )
            self._arrays[split] = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
        return self._arrays[split]

    def summary(self) -> dict[str, Any]:
        """Reads both splits (validating every file) and says which release was used."""
        out = super().summary()
        release, folder = self.locate()
        return {**out, "release": release.fmt, "folder": str(folder)}

    def split(self, split: str, augment: bool | None = None) -> ImageSamples:
        images, labels = self.arrays(split)
        use = self.augment if augment is None else augment
        transform = None
        if use and split == "train":
            transform = Augment(fill=(self.normalization or {"mean": [0.0, 0.0, 0.0]})["mean"])
        return ImageSamples(images, labels, transform)


@register_dataset
class CIFAR10(_CIFAR):
    name = "cifar10"
    title = "CIFAR-10"
    classes = CIFAR10_CLASSES
    normalization = {"mean": [0.4914, 0.4822, 0.4465], "std": [0.2470, 0.2435, 0.2616]}
    description = "CIFAR-10: 60,000 32x32 colour images in 10 classes (50,000 train / 10,000 test)"
    releases = CIFAR10_RELEASES
    label_key, label_bytes, label_index = "labels", 1, 0
    layout = "D/cifar-10-batches-bin/ (binary) or D/cifar-10-batches-py/ (python)"


@register_dataset
class CIFAR100(_CIFAR):
    name = "cifar100"
    title = "CIFAR-100"
    classes = CIFAR100_FINE
    normalization = {"mean": [0.5071, 0.4865, 0.4409], "std": [0.2673, 0.2564, 0.2762]}
    description = "CIFAR-100: 60,000 32x32 colour images in 100 fine classes (50,000 train / 10,000 test)"
    releases = CIFAR100_RELEASES
    label_key, label_bytes, label_index = "fine_labels", 2, 1
    layout = "D/cifar-100-binary/ (binary) or D/cifar-100-python/ (python)"


@register_dataset
class CIFAR100Coarse(CIFAR100):
    name = "cifar100-coarse"
    classes = CIFAR100_COARSE
    description = "CIFAR-100 with its 20 coarse superclass labels (same files as cifar100)"
    label_key, label_bytes, label_index = "coarse_labels", 2, 0
