"""Model files: round trip, and refusal of anything that is not plain data."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

import snnsec
from snnsec.errors import InputError
from snnsec.models import build_model, save_model
from snnsec.neurons import NeuronParameters


def test_round_trip_keeps_weights_metadata_and_outputs(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("vgg5", num_classes=10, T=3, neuron=NeuronParameters(leak=0.9, reset="soft", theta=0.5),
                        dataset="mnist5k", class_names=[str(i) for i in range(10)]).eval()
    path = save_model(model, tmp_path / "m.pt")
    loaded = snnsec.load_model(path)
    assert isinstance(loaded, torch.nn.Module)
    assert loaded.meta.to_dict() == model.meta.to_dict()
    assert loaded.meta.snnsec_version == snnsec.__version__
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    assert not loaded.training


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # executed by a plain unpickler
        return (Path.touch, (self.marker,))


def test_malicious_model_file_is_refused_and_runs_no_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"format": "snnsec-model", "format_version": 1, "meta": {}, "state_dict": {"w": _Payload(marker)}}, evil)
    # sanity: a plain unpickler of this file really would run the payload
    with zipfile.ZipFile(evil) as zf:
        data_pkl = next(n for n in zf.namelist() if n.endswith("data.pkl"))
        raw = zf.read(data_pkl)
    assert b"touch" in raw
    with pytest.raises(InputError, match="refused to load") as info:
        snnsec.load_model(evil)
    assert "\n" not in str(info.value)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_plain_pickle_with_reduce_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "legacy.pt"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(InputError):
        snnsec.load_model(path)
    assert not marker.exists()


def test_truncated_file_is_a_clear_error(tmp_path: Path) -> None:
    model = build_model("vgg5", num_classes=10, T=2)
    good = save_model(model, tmp_path / "m.pt")
    bad = tmp_path / "cut.pt"
    bad.write_bytes(good.read_bytes()[: os.path.getsize(good) // 2])
    with pytest.raises(InputError, match="truncated or not a torch file"):
        snnsec.load_model(bad)


def test_foreign_checkpoint_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "foreign.pt"
    torch.save({"model": {"w": torch.zeros(2)}}, path)
    with pytest.raises(InputError, match="not an snnsec model file"):
        snnsec.load_model(path)


def test_weights_of_another_architecture_are_refused(tmp_path: Path) -> None:
    model = build_model("vgg5", num_classes=10, T=2)
    path = save_model(model, tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["meta"]["arch"] = "vgg11"
    payload["meta"]["input_shape"] = [3, 32, 32]
    buf = io.BytesIO()
    torch.save(payload, buf)
    path.write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="do not match architecture 'vgg11'"):
        snnsec.load_model(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="model file not found"):
        snnsec.load_model(tmp_path / "nope.pt")
