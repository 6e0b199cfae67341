"""CIFAR10-DVS as event frames, read by tonic's own reader (``tonic.datasets.CIFAR10DVS``).

Layout tonic 1.7 expects under ``--data-dir D`` (tonic's ``save_to``)::

    D/CIFAR10DVS/CIFAR10DVS.zip             the downloaded archive (tonic only checks that it exists)
    D/CIFAR10DVS/airplane/*.aedat4          the extracted recordings, one folder per class
    ...
    D/CIFAR10DVS/truck/*.aedat4

tonic skips its download only when ``D/CIFAR10DVS/CIFAR10DVS.zip`` is a file (any content, no
checksum) **and** at least 1,000 ``.aedat4`` files lie below ``D/CIFAR10DVS``; otherwise its
constructor downloads the archive. snnsec checks both conditions first and raises
:class:`~snnsec.errors.InputError` naming the missing path, and its tonic subclass replaces
``download`` by an error, so nothing is ever fetched. A recording's label is its folder name.

Frames (see :mod:`snnsec.data.frames`): tonic's ``Downsample`` from the 128x128 sensor to
``size`` x ``size`` (default 48) and ``ToFrame(n_time_bins=T)`` (default 10), 2 polarities, then
``x = min(count, 16) / 16`` in [0, 1]. Each recording's frames are cached on disk as uint8 counts
in ``<cache_dir>/<T, size, cap>/<class>/<file>.u8``; ``cache_dir`` defaults to
``D/.snnsec-cache/cifar10-dvs`` (outside ``D/CIFAR10DVS``, so tonic never sees it).

The split is seeded and stratified: with recordings sorted by path, each class's list is
permuted with ``split_seed`` (default 0) and its first tenth is the test set (9,000 / 1,000).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

from snnsec.data.base import SNNDataset, register_dataset, stratified_split
from snnsec.data.frames import FrameCache, FrameSpec, LazyFrameSamples
from snnsec.data.notfound import DatasetNotFound
from snnsec.errors import InputError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SENSOR = (128, 128, 2)
FOLDER, MARKER, MIN_FILES = "CIFAR10DVS", "CIFAR10DVS.zip", 1000  # tonic 1.7's download-skip conditions
DEFAULT_T, DEFAULT_SIZE, COUNT_CAP = 10, 48, 16
TEST_FRACTION = 0.1


def check_layout(data_dir: Path) -> Path:
    """``D/CIFAR10DVS`` if tonic would read it without downloading; else an InputError naming the path."""
    root = data_dir / FOLDER
    if not root.is_dir():
        if data_dir.name == FOLDER or (data_dir / MARKER).exists() or (data_dir / CLASSES[0]).is_dir():
            raise InputError(
                f"CIFAR10-DVS: {data_dir} looks like the dataset folder itself; pass its parent: --data-dir {data_dir.parent}"
            )
        raise DatasetNotFound(f"CIFAR10-DVS not found: expected {root / CLASSES[0]}/*.aedat4 and {root / MARKER}")
    files = sorted(root.glob("**/*.aedat4"))
    if len(files) < MIN_FILES:
        zips = [root / f"{c}.zip" for c in CLASSES if (root / f"{c}.zip").is_file()]
        hint = f"; extract the class archives ({zips[0].name}, ...) into {root}" if zips else ""
        raise InputError(
            f"CIFAR10-DVS: found {len(files)} .aedat4 files below {root}, expected at least {MIN_FILES} "
            f"(tonic downloads the dataset otherwise){hint}"
        )
    if not (root / MARKER).is_file():
        raise InputError(
            f"CIFAR10-DVS: expected {root / MARKER} (tonic downloads the dataset unless this file exists; "
            f"keep the downloaded archive there, or create an empty file of that name)"
        )
    for path in files:
        if path.parent.name not in CLASSES:
            raise InputError(
                f"CIFAR10-DVS: {path} is not in a class folder; expected {root}/<class>/ with class in {', '.join(CLASSES)}"
            )
    return root


def _offline_reader_class() -> type:
    """tonic's CIFAR10DVS with ``download`` turned into an error (the class name sets tonic's folder)."""
    import tonic.datasets

    def download(self: Any) -> None:
        raise InputError(f"CIFAR10-DVS: tonic wanted to download into {self.location_on_system}; snnsec never downloads")

    return type(FOLDER, (tonic.datasets.CIFAR10DVS,), {"download": download})


@register_dataset
class CIFAR10DVSFrames(SNNDataset):
    name = "cifar10-dvs"
    classes = CLASSES
    kind = "frames"
    normalization = None
    needs_data_dir = True
    description = "CIFAR10-DVS: 10,000 DVS recordings of CIFAR-10 images, as T x 2 x 48 x 48 frames (9,000 / 1,000)"
    citation = (
        "H. Li, H. Liu, X. Ji, G. Li, L. Shi. CIFAR10-DVS: An Event-Stream Dataset for Object "
        "Classification. Front. Neurosci. 11:309, 2017."
    )
    url = "https://figshare.com/articles/dataset/CIFAR10-DVS_New/4724671"
    default_eps = "0.02"  # paper Table 2: DVS budget on the preprocessed frames
    sizes = {"train": 9000, "test": 1000}
    layout = "D/CIFAR10DVS/<class>/*.aedat4 (10,000 files) and the archive D/CIFAR10DVS/CIFAR10DVS.zip"

    def __init__(
        self,
        data_dir: str | Path | None = None,
        T: int | None = None,
        size: int | None = None,
        cap: int = COUNT_CAP,
        split_seed: int = 0,
        cache_dir: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(data_dir, **options)
        side = DEFAULT_SIZE if size is None else int(size)
        self.spec = FrameSpec(SENSOR, (side, side), DEFAULT_T if T is None else T, cap)
        self.split_seed = int(split_seed)
        self.root = Path(data_dir) if data_dir is not None else Path(".")  # None was refused above
        root = Path(cache_dir) if cache_dir is not None else self.root / ".snnsec-cache" / "cifar10-dvs"
        self.cache = FrameCache(root, self.spec)

    def sample_shape(self) -> tuple[int, ...]:
        return self.spec.shape

    @functools.cached_property
    def reader(self) -> Any:
        """tonic's dataset over the recordings (built once; lists files, reads nothing yet)."""
        check_layout(self.root)
        return _offline_reader_class()(save_to=str(self.root), transform=self.spec.transform())

    @functools.cached_property
    def _index(self) -> tuple[list[int], np.ndarray, list[str]]:
        """tonic indices sorted by path, their labels and their cache keys (``class/stem``)."""
        reader = self.reader
        root = Path(reader.location_on_system)
        order = sorted(range(len(reader.data)), key=lambda i: reader.data[i])
        keys = [Path(reader.data[i]).relative_to(root).with_suffix("").as_posix() for i in order]
        return order, np.asarray([reader.targets[i] for i in order], dtype=np.int64), keys

    def counts(self, position: int) -> np.ndarray:
        """Clipped counts of the recording at ``position`` in path order (from the cache if fresh)."""
        order, _, keys = self._index
        index = order[position]
        path = self.reader.data[index]
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError as exc:
            raise InputError(f"CIFAR10-DVS: cannot read {path}: {exc.strerror}") from None
        return self.cache.get(keys[position], lambda: self._read(index), mtime)

    def _read(self, index: int) -> np.ndarray:
        path = self.reader.data[index]
        try:
            frames, _ = self.reader[index]  # tonic: read_aedat4 -> Downsample -> ToFrame
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - the aedat decoder raises plain exceptions
            raise InputError(f"CIFAR10-DVS: cannot read {path} as AEDAT4 events ({type(exc).__name__}: {exc})") from None
        return self.spec.clip(frames)

    def split(self, split: str) -> LazyFrameSamples:
        self.check_split(split)
        _, labels, _ = self._index
        train, test = stratified_split(labels, TEST_FRACTION, self.split_seed)
        positions = train if split == "train" else test
        return LazyFrameSamples(lambda i: self.counts(int(positions[i])), labels[positions], self.spec)

    def summary(self) -> dict[str, Any]:
        """Counts per split, and the first recording of each split read through tonic (validates)."""
        out = super().summary()
        for name in ("train", "test"):
            samples = self.split(name)
            if len(samples):
                _ = samples[0]  # reads (or loads from the cache) and checks one recording's frames
        out["cache_dir"] = str(self.cache.dir)
        return out
