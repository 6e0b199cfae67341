"""Event streams to frames with tonic's transforms, the [0, 1] frame domain, and the frame cache.

Both event datasets (CIFAR10-DVS and DVS-MNIST-5k) turn a stream of events ``(x, y, t, p)`` into
frames with the same two tonic transforms:

1. ``tonic.transforms.Downsample(sensor_size, target_size)`` (skipped when the frame size equals
   the sensor size) scales the pixel coordinates; several sensor pixels fall into one frame pixel;
2. ``tonic.transforms.ToFrame(n_time_bins=T)`` splits the recording's time span into ``T`` equal
   bins and counts the events of each polarity per pixel: integer counts ``[T, 2, H, W]``.

**Frame domain.** The model sees ``x = min(count, cap) / cap``: float32 in [0, 1], with ``cap`` a
fixed constant per dataset (not per sample), so a frame value is an event count up to a known
scale, and 0 means "no event". Attacks treat the L-infinity ball intersected with [0, 1] as the
domain of event frames; an eps of 0.02 (the paper's DVS budget) is 0.02 * cap events per pixel
and bin on the preprocessed frames. Counts are stored clipped, as uint8, so the cached frames are
exact and four times smaller than float32.

**Cache.** :class:`FrameCache` keeps one raw ``.u8`` file of clipped counts per recording under
``<cache root>/<spec key>/``, where the key names every parameter that changes the frames
(``T10-48x48-from128x128-cap16-v1``). An entry is used when it is at least as new as its recording; a missing,
stale or unreadable entry is rebuilt from the events. Entries are replaced atomically (temporary
file + rename) but not fsynced: they can always be rebuilt, and a damaged one fails validation.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from snnsec.errors import InputError
from snnsec.utils.io import atomic_write_json

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # bump when the event-to-frame pipeline changes, so old caches are not reused


@dataclass(frozen=True)
class FrameSpec:
    """How events become frames: sensor ``(W, H, P)``, frame ``(W, H)``, ``T`` bins, count ``cap``."""

    sensor_size: tuple[int, int, int]
    size: tuple[int, int]
    T: int
    cap: int

    def __post_init__(self) -> None:
        if not isinstance(self.T, int) or self.T < 1:
            raise InputError(f"T (time bins) must be a positive integer, got {self.T!r}")
        w, h = self.size
        if not (1 <= w <= self.sensor_size[0] and 1 <= h <= self.sensor_size[1]):
            raise InputError(
                f"frame size {w}x{h} must be between 1x1 and the sensor's {self.sensor_size[0]}x{self.sensor_size[1]}"
            )
        if not isinstance(self.cap, int) or not 1 <= self.cap <= 255:
            raise InputError(f"count cap must be an integer in 1..255, got {self.cap!r}")

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """One sample as the model sees it: ``(T, P, H, W)``."""
        return (self.T, self.sensor_size[2], self.size[1], self.size[0])

    @property
    def key(self) -> str:
        """Names every parameter that changes the frames (the cache folder name)."""
        sw, sh, _ = self.sensor_size
        return f"T{self.T}-{self.size[0]}x{self.size[1]}-from{sw}x{sh}-cap{self.cap}-v{CACHE_VERSION}"

    def transform(self) -> Callable[[np.ndarray], np.ndarray]:
        """The tonic transform chain: events -> integer counts ``[T, P, H, W]``."""
        import tonic.transforms as tt

        steps: list[Callable[[np.ndarray], np.ndarray]] = []
        if tuple(self.size) != tuple(self.sensor_size[:2]):
            steps.append(tt.Downsample(sensor_size=self.sensor_size, target_size=self.size))
        steps.append(tt.ToFrame(sensor_size=(*self.size, self.sensor_size[2]), n_time_bins=self.T))
        return tt.Compose(steps)

    def counts(self, events: np.ndarray, transform: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        """Clipped event counts, uint8 ``[T, P, H, W]``, of one recording's ``events``."""
        check_events(events, self.sensor_size)
        if len(events) == 0:  # tonic's ToFrame returns [T, P, W, H] here; keep our layout
            return np.zeros(self.shape, dtype=np.uint8)
        frames = (transform or self.transform())(events)
        return self.clip(frames)

    def clip(self, frames: np.ndarray) -> np.ndarray:
        """Integer counts from ``ToFrame`` -> clipped uint8 counts, checking the shape."""
        frames = np.asarray(frames)
        if frames.shape != self.shape:
            raise InputError(f"event frames have shape {list(frames.shape)}, expected {list(self.shape)}")
        return np.minimum(frames, self.cap).astype(np.uint8)

    def to_tensor(self, counts: np.ndarray) -> torch.Tensor:
        """Clipped counts -> the model's float32 frame in [0, 1]."""
        # numpy, not torch: one small single-threaded op (torch's thread pool costs more than it saves here)
        return torch.from_numpy(np.divide(counts, np.float32(self.cap), dtype=np.float32))


def check_events(events: np.ndarray, sensor_size: Sequence[int]) -> None:
    """Events must carry fields x, y, t, p and lie on the sensor."""
    names = events.dtype.names or ()
    missing = [f for f in ("x", "y", "t", "p") if f not in names]
    if missing:
        raise InputError(f"events need fields x, y, t, p; got dtype {events.dtype}")
    if len(events) and (int(events["x"].max()) >= sensor_size[0] or int(events["y"].max()) >= sensor_size[1]):
        raise InputError(
            f"events reach x={int(events['x'].max())}, y={int(events['y'].max())}, "
            f"outside the {sensor_size[0]}x{sensor_size[1]} sensor"
        )


class FrameCache:
    """One ``.u8`` file of clipped counts (uint8, C order, ``spec.shape``) per recording under ``root / spec.key``."""

    def __init__(self, root: str | os.PathLike[str], spec: FrameSpec) -> None:
        self.spec = spec
        self.dir = Path(root) / spec.key
        self._nbytes = int(np.prod(spec.shape))
        self._writable = True

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.u8"

    def load(self, key: str, source_mtime_ns: int | None = None) -> np.ndarray | None:
        """The cached counts of ``key``, or None if missing, older than the source, or damaged.

        An entry is the raw uint8 counts in C order (the shape is in the folder's ``spec.json`` and
        its name): no header to parse, so a cache hit costs one open and one read.
        """
        try:
            with open(self.path(key), "rb") as fh:
                if source_mtime_ns is not None and os.fstat(fh.fileno()).st_mtime_ns < source_mtime_ns:
                    return None
                data = fh.read()
        except OSError:
            return None
        if len(data) != self._nbytes:
            return None
        return np.frombuffer(data, dtype=np.uint8).reshape(self.spec.shape)

    def store(self, key: str, counts: np.ndarray) -> None:
        """Write an entry (rename-atomic). A read-only cache is reported once, then skipped."""
        if not self._writable:
            return
        path = self.path(key)
        try:
            if not self.dir.is_dir():
                self._init_dir()
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(np.ascontiguousarray(counts, dtype=np.uint8).tobytes())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            self._writable = False
            log.warning("frame cache %s is not writable (%s); frames will be rebuilt from events", self.dir, exc)

    def get(self, key: str, make: Callable[[], np.ndarray], source_mtime_ns: int | None = None) -> np.ndarray:
        counts = self.load(key, source_mtime_ns)
        if counts is None:
            counts = make()
            self.store(key, counts)
        return counts

    def _init_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.dir / "spec.json", {**asdict(self.spec), "frame_value": "min(count, cap) / cap"})


class FrameSamples(Dataset):
    """Frames held in memory as clipped counts ``[N, T, P, H, W]`` (uint8); yields float32 in [0, 1]."""

    def __init__(self, counts: np.ndarray, labels: np.ndarray, spec: FrameSpec) -> None:
        if len(counts) != len(labels):
            raise ValueError(f"{len(counts)} frames but {len(labels)} labels")
        self.counts, self.labels, self.spec = counts, torch.as_tensor(labels, dtype=torch.int64), spec

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.spec.to_tensor(self.counts[i]), self.labels[i]


class LazyFrameSamples(Dataset):
    """Frames produced on demand by ``load(i) -> counts`` (which may read a cache)."""

    def __init__(self, load: Callable[[int], np.ndarray], labels: Sequence[int], spec: FrameSpec) -> None:
        self.load, self.labels, self.spec = load, torch.as_tensor(list(labels), dtype=torch.int64), spec

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} out of range for {len(self)} samples")
        return self.spec.to_tensor(self.load(int(i) % len(self))), self.labels[i]
