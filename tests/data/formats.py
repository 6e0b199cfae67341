"""Writers of tiny CIFAR files in the official formats (binary records and Python-2 pickles).

The python releases were written by Python 2's cPickle (protocol 2), where ``str`` is a byte
string stored with the BINSTRING opcodes. Python 3 pickles bytes at protocol 2 through
``_codecs.encode``, which the real files never contain, so :func:`py2_pickle` reproduces the
Python 2 encoding instead.
"""

from __future__ import annotations

import io
import pickle
import struct
from pathlib import Path

import numpy as np


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler lets us override one opcode writer
    dispatch = dict(pickle._Pickler.dispatch)

    def save_bytes_as_py2_str(self, obj: bytes) -> None:
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes_as_py2_str


def py2_pickle(obj: object) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def random_images(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)


def write_cifar10_binary(root: Path, per_batch: int, n_test: int, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``root/cifar-10-batches-bin``: 5 train batches and a test batch; returns the written arrays."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    out: dict[str, list] = {"train": [], "test": []}
    names = [(f"data_batch_{i}.bin", "train", per_batch) for i in range(1, 6)] + [("test_batch.bin", "test", n_test)]
    for name, split, n in names:
        images, labels = random_images(n, rng), rng.integers(0, 10, n).astype(np.uint8)
        records = np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1)  # <label><R><G><B>
        (folder / name).write_bytes(records.tobytes())
        out[split].append((images, labels))
    (folder / "batches.meta.txt").write_text("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n")
    return {k: (np.concatenate([a for a, _ in v]), np.concatenate([b for _, b in v]).astype(np.int64)) for k, v in out.items()}


def write_cifar100_binary(root: Path, n_train: int, n_test: int, seed: int = 0) -> dict[str, tuple[np.ndarray, ...]]:
    """``root/cifar-100-binary``: returns (images, coarse, fine) per split."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-binary"
    folder.mkdir(parents=True)
    out = {}
    for name, split, n in (("train.bin", "train", n_train), ("test.bin", "test", n_test)):
        images = random_images(n, rng)
        coarse, fine = rng.integers(0, 20, n).astype(np.uint8), rng.integers(0, 100, n).astype(np.uint8)
        records = np.concatenate([coarse[:, None], fine[:, None], images.reshape(n, -1)], axis=1)
        (folder / name).write_bytes(records.tobytes())
        out[split] = (images, coarse.astype(np.int64), fine.astype(np.int64))
    return out


def write_cifar10_python(root: Path, per_batch: int, n_test: int, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``root/cifar-10-batches-py``: Python-2 style pickled dicts, as in the official archive."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    out: dict[str, list] = {"train": [], "test": []}
    names = [(f"data_batch_{i}", "train", per_batch) for i in range(1, 6)] + [("test_batch", "test", n_test)]
    for name, split, n in names:
        images, labels = random_images(n, rng), [int(v) for v in rng.integers(0, 10, n)]
        batch = {
            b"batch_label": name.encode(),
            b"labels": labels,
            b"data": images.reshape(n, -1),
            b"filenames": [f"img_{i}.png".encode() for i in range(n)],
        }
        (folder / name).write_bytes(py2_pickle(batch))
        out[split].append((images, np.asarray(labels)))
    (folder / "batches.meta").write_bytes(py2_pickle({b"label_names": [b"airplane"], b"num_cases_per_batch": per_batch}))
    return {k: (np.concatenate([a for a, _ in v]), np.concatenate([b for _, b in v]).astype(np.int64)) for k, v in out.items()}


def write_cifar100_python(root: Path, n_train: int, n_test: int, seed: int = 0) -> dict[str, tuple[np.ndarray, ...]]:
    """``root/cifar-100-python``: returns (images, coarse, fine) per split."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    out = {}
    for name, n in (("train", n_train), ("test", n_test)):
        images = random_images(n, rng)
        coarse, fine = rng.integers(0, 20, n), rng.integers(0, 100, n)
        batch = {
            b"filenames": [f"img_{i}.png".encode() for i in range(n)],
            b"batch_label": f"{name} batch".encode(),
            b"fine_labels": [int(v) for v in fine],
            b"coarse_labels": [int(v) for v in coarse],
            b"data": images.reshape(n, -1),
        }
        (folder / name).write_bytes(py2_pickle(batch))
        out[name] = (images, coarse.astype(np.int64), fine.astype(np.int64))
    return out
