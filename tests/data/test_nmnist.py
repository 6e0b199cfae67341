"""N-MNIST through tonic's reader, from tiny .bin files written in the real 5-byte event format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snnsec.data import get_dataset
from snnsec.errors import InputError
from tests.data.conftest import reference_counts


def write_nmnist_bin(path: Path, events: np.ndarray) -> None:
    """N-MNIST's format: per event x, y, (p << 7 | t >> 16), t >> 8, t (bytes; t in µs < 2^23)."""
    t = events["t"].astype(np.int64)
    raw = np.stack([events["x"], events["y"], (events["p"] << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF], 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw.astype(np.uint8).tobytes())


def random_events(rng: np.random.Generator, n: int) -> np.ndarray:
    ev = np.zeros(n, dtype=[("x", int), ("y", int), ("t", int), ("p", int)])
    ev["x"], ev["y"], ev["p"] = rng.integers(0, 34, n), rng.integers(0, 34, n), rng.integers(0, 2, n)
    ev["t"] = np.sort(rng.integers(0, 300_000, n))
    return ev


@pytest.fixture()
def nmnist_dir(tmp_path) -> tuple[Path, dict[str, list[tuple[np.ndarray, int]]]]:
    rng = np.random.default_rng(0)
    written: dict[str, list] = {"train": [], "test": []}
    for split, folder, per_class in (("train", "Train", 2), ("test", "Test", 1)):
        for digit in range(10):
            for k in range(per_class):
                ev = random_events(rng, 400)
                write_nmnist_bin(tmp_path / "NMNIST" / folder / str(digit) / f"{k:05d}.bin", ev)
                written[split].append((ev, digit))
    return tmp_path, written


def test_nmnist_frames_equal_a_reference_binning_and_labels_come_from_folders(nmnist_dir) -> None:
    root, written = nmnist_dir
    ds = get_dataset("nmnist", root, T=5)
    assert ds.sample_shape() == (5, 2, 34, 34)
    for split in ("train", "test"):
        data = ds.split(split)
        assert len(data) == len(written[split])
        for i in (0, len(data) - 1):
            x, y = data[i]
            ev, digit = written[split][i]
            assert int(y) == digit
            want = reference_counts(ev, sensor=34, size=34, T=5, cap=8) / 8.0
            np.testing.assert_array_equal(x.numpy(), want.astype(np.float32))


def test_frames_are_cached_and_reused(nmnist_dir) -> None:
    root, _ = nmnist_dir
    first = get_dataset("nmnist", root).split("test")[3][0]
    files = sorted((root / ".snnsec-cache" / "nmnist").glob("**/*.u8"))
    assert len(files) == 1
    files[0].write_bytes(np.full(files[0].stat().st_size, 1, np.uint8).tobytes())  # tamper: proves it is read
    again = get_dataset("nmnist", root).split("test")[3][0]
    assert float(again.max()) == pytest.approx(1 / 8) and not np.array_equal(again.numpy(), first.numpy())


def test_missing_folder_and_bad_file_are_one_line_errors(nmnist_dir, tmp_path_factory) -> None:
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(InputError, match=r"N-MNIST train split not found: expected .*NMNIST/Train/"):
        get_dataset("nmnist", empty).split("train")
    root, _ = nmnist_dir
    bad = root / "NMNIST" / "Test" / "0" / "00000.bin"
    bad.write_bytes(b"\x01\x02\x03")  # not a whole 5-byte event
    with pytest.raises(InputError, match=r"N-MNIST: cannot read .*00000\.bin"):
        get_dataset("nmnist", root).split("test")[0]


def test_datasets_check_cli(nmnist_dir, capsys) -> None:
    import json

    from snnsec.cli.main import main

    root, _ = nmnist_dir
    rc = main(["datasets", "check", "--dataset", "nmnist", "--data-dir", str(root), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["samples"] == {"train": 20, "test": 10} and out["sample_shape"] == [10, 2, 34, 34]
