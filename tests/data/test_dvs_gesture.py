"""DVS-Gesture through tonic's reader, from tiny .npy recordings in tonic's release layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snnsec.data import get_dataset
from snnsec.errors import InputError
from snnsec.models import build_model
from tests.data.conftest import reference_counts


def write_gesture(path: Path, rng: np.random.Generator, n: int) -> np.ndarray:
    """tonic's DVSGesture .npy: [N, 4] columns x, y, polarity, t in ms (sorted)."""
    arr = np.stack([rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n),
                    np.sort(rng.integers(0, 2000, n))], 1).astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, arr)
    ev = np.zeros(n, dtype=[("x", int), ("y", int), ("t", int), ("p", int)])
    ev["x"], ev["y"], ev["p"], ev["t"] = arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3] * 1000
    return ev


@pytest.fixture()
def gesture_dir(tmp_path) -> tuple[Path, dict[str, list[tuple[np.ndarray, int]]]]:
    rng = np.random.default_rng(0)
    written: dict[str, list] = {"train": [], "test": []}
    for split, folder, users in (("train", "ibmGestureTrain", (1, 2)), ("test", "ibmGestureTest", (24,))):
        for user in users:
            for label in (0, 3, 10):
                ev = write_gesture(tmp_path / "DVSGesture" / folder / f"user{user:02d}_led" / f"{label}.npy", rng, 600)
                written[split].append((ev, label))
    return tmp_path, written


def test_gesture_frames_and_labels(gesture_dir) -> None:
    root, written = gesture_dir
    ds = get_dataset("dvs-gesture", root, T=4, size=32)
    assert ds.sample_shape() == (4, 2, 32, 32) and len(ds.classes) == 11
    for split in ("train", "test"):
        data = ds.split(split)
        assert len(data) == len(written[split])
        got = {(int(data[i][1]), tuple(data[i][0].shape)) for i in range(len(data))}
        assert got == {(label, (4, 2, 32, 32)) for _, label in written[split]}
    # tonic lists files in its own order: find the recording by label and user folder
    data = ds.split("test")
    reader = ds.reader("test")
    i = next(k for k, p in enumerate(reader.data) if p.endswith("user24_led/3.npy"))
    ev = next(e for e, label in written["test"] if label == 3)
    want = reference_counts(ev, sensor=128, size=32, T=4, cap=16) / 16.0
    np.testing.assert_array_equal(data[i][0].numpy(), want.astype(np.float32))


def test_vgggesture_runs_on_the_frames(gesture_dir) -> None:
    import torch

    root, _ = gesture_dir
    x, _ = get_dataset("dvs-gesture", root).split("train")[0]
    model = build_model("vgggesture", num_classes=11, input_shape=tuple(x.shape), T=x.shape[0], encoder="frames",
                        width=0.25).eval()
    with torch.no_grad():
        assert model(x.unsqueeze(0)).shape == (1, 11)


def test_missing_split_is_a_one_line_error(tmp_path) -> None:
    with pytest.raises(InputError, match=r"DVS-Gesture test split not found: expected .*DVSGesture/ibmGestureTest/"):
        get_dataset("dvs-gesture", tmp_path).split("test")
