"""Shared reader for event datasets that tonic lists and decodes from local files (N-MNIST, DVS-Gesture).

tonic's dataset classes download their archives unless an archive file and enough extracted
files are present. snnsec never downloads: its subclass of tonic's reader (made by
:func:`offline_reader`) replaces ``download`` by an error and accepts the extracted folder as it is
(snnsec checks it first and names what is missing), then lets tonic list the recordings and decode
each one. Events become frames with :class:`~snnsec.data.frames.FrameSpec` (tonic's
``Downsample`` + ``ToFrame``) and are cached per recording in a
:class:`~snnsec.data.frames.FrameCache` under ``D/.snnsec-cache/<dataset>/`` (or ``cache_dir``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from snnsec.data.base import SNNDataset
from snnsec.data.frames import FrameCache, FrameSpec, LazyFrameSamples
from snnsec.data.notfound import DatasetNotFound
from snnsec.errors import InputError


def offline_reader(tonic_class: type, title: str) -> type:
    """``tonic_class`` that never downloads and reads the extracted folder it finds."""

    def download(self: Any) -> None:
        raise InputError(f"{title}: tonic wanted to download into {self.location_on_system}; snnsec never downloads")

    def check_exists(self: Any) -> bool:
        return True  # snnsec checked the folder before building the reader

    # tonic names its folder after the class, so the subclass keeps the original name
    return type(tonic_class.__name__, (tonic_class,), {"download": download, "_check_exists": check_exists})


class TonicFrames(SNNDataset):
    """An event dataset read by a tonic reader class, as ``T x P x size x size`` frames.

    Subclasses set :attr:`tonic_name` (the class in ``tonic.datasets``), :attr:`folders` (the
    extracted folder of each split below ``D/<tonic_name>/``), :attr:`suffix`, and the frame
    defaults.
    """

    kind = "frames"
    normalization = None
    needs_data_dir = True
    default_eps = "0.02"
    tonic_name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    folders: ClassVar[dict[str, str]] = {}
    suffix: ClassVar[str] = ""
    sensor: ClassVar[tuple[int, int, int]] = (0, 0, 0)
    default_T: ClassVar[int] = 10
    default_size: ClassVar[int] = 0
    count_cap: ClassVar[int] = 16

    def __init__(
        self,
        data_dir: str | Path | None = None,
        T: int | None = None,
        size: int | None = None,
        cap: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(data_dir, **options)
        side = self.default_size if size is None else int(size)
        self.spec = FrameSpec(self.sensor, (side, side), self.default_T if T is None else int(T),
                              self.count_cap if cap is None else int(cap))
        self.root = Path(data_dir) if data_dir is not None else Path(".")
        cache_root = Path(cache_dir) if cache_dir is not None else self.root / ".snnsec-cache" / self.name
        self.cache = FrameCache(cache_root, self.spec)
        self._readers: dict[str, Any] = {}
        self._keys: dict[str, list[str]] = {}

    def sample_shape(self) -> tuple[int, ...]:
        return self.spec.shape

    def check_folder(self, split: str) -> Path:
        """``D/<tonic_name>/<folder>`` holding at least one recording, else a one-line error."""
        base = self.root / self.tonic_name
        folder = base / self.folders[split]
        if not folder.is_dir():
            if self.root.name == self.tonic_name:
                raise InputError(f"{self.title}: {self.root} looks like the dataset folder itself; "
                                 f"pass its parent: --data-dir {self.root.parent}")
            raise DatasetNotFound(f"{self.title} {split} split not found: expected {folder}/ (see `snnsec datasets list`)")
        if next(folder.glob(f"**/*{self.suffix}"), None) is None:
            raise InputError(f"{self.title}: no *{self.suffix} recordings below {folder}")
        return folder

    def reader(self, split: str) -> Any:
        """tonic's reader of ``split`` (lists the recordings once; decodes nothing yet)."""
        if split not in self._readers:
            import tonic.datasets

            self.check_split(split)
            self.check_folder(split)
            cls = offline_reader(getattr(tonic.datasets, self.tonic_name), self.title)
            reader = cls(save_to=str(self.root), train=split == "train", transform=self.spec.transform())
            root = Path(reader.location_on_system)
            self._keys[split] = [Path(p).relative_to(root).with_suffix("").as_posix() for p in reader.data]
            self._readers[split] = reader
        return self._readers[split]

    def counts(self, split: str, index: int) -> np.ndarray:
        """Clipped counts of recording ``index`` of ``split`` (from the cache when it is fresh)."""
        reader = self.reader(split)
        path = reader.data[index]
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError as exc:
            raise InputError(f"{self.title}: cannot read {path}: {exc.strerror}") from None
        return self.cache.get(self._keys[split][index], lambda: self._read(split, index), mtime)

    def _read(self, split: str, index: int) -> np.ndarray:
        reader = self.reader(split)
        try:
            frames, _ = reader[index]
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - tonic's decoders raise plain exceptions
            raise InputError(f"{self.title}: cannot read {reader.data[index]} ({type(exc).__name__}: {exc})") from None
        return self.spec.clip(frames)

    def split(self, split: str) -> LazyFrameSamples:
        reader = self.reader(split)
        labels = np.asarray(reader.targets, dtype=np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise InputError(f"{self.title}: label {int(labels.max())} out of range for {len(self.classes)} classes")
        return LazyFrameSamples(lambda i: self.counts(split, i), labels, self.spec)

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        for name in ("train", "test"):
            samples = self.split(name)
            if len(samples):
                _ = samples[0]
        out["cache_dir"] = str(self.cache.dir)
        return out

