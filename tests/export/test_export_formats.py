"""NetX HDF5 layout and ONNX export; both through the CLI."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from snnsec.cli.main import main
from snnsec.export.netx_hdf5 import read_netx_meta
from snnsec.models import save_model
from tests.lava.tiny_models import tiny_resnet, tiny_vgg


def test_netx_file_layout_and_quantisation_report(tmp_path, capsys):
    model_path = save_model(tiny_vgg(encoder="direct", T=3), tmp_path / "m.pt")
    assert main(["export", "--model", str(model_path), "--format", "netx", "--out", str(tmp_path / "m.net"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [q["layer"] for q in report["quantization"]] == ["body.2", "body.6", "body.10", "body.14", "readout"]
    assert all(0.0 <= q["weight_rel_error"] < 0.05 for q in report["quantization"])
    with h5py.File(tmp_path / "m.net", "r") as f:
        layers = f["layer"]
        types = [layers[str(i)]["type"][0].decode() for i in range(len(layers))]
        assert types == ["input", "conv", "conv", "conv", "flatten", "dense", "dense"]
        assert list(layers["0"]["shape"][()]) == [1, 8, 8]
        conv = layers["2"]
        assert conv["weight"].shape == (4, 2, 6, 6)  # 2x2 pool folded into a 3x3 conv
        assert list(conv["stride"][()]) == [2, 2] and list(conv["padding"][()]) == [2, 2]
        assert conv["neuron"]["type"][0] == b"CUBA" and int(conv["neuron"]["iDecay"][()]) == 4096
        assert int(layers["6"]["neuron"]["vThMant"][()]) == 2**17 - 1  # readout never spikes
        assert not any(len(obj.attrs) for obj in [f, layers, conv])  # NetX: datasets only
    meta = read_netx_meta(tmp_path / "m.net")
    assert meta["streaming"] == {"reset_interval": 3, "reset_offset": 1} and meta["latency"] == 5


def test_netx_refuses_residual_and_soft_reset_models_and_names_the_alternative(tmp_path, capsys):
    for name, model in [("res", tiny_resnet(reset="hard")), ("soft", tiny_vgg(reset="soft"))]:
        path = save_model(model, tmp_path / f"{name}.pt")
        assert main(["export", "--model", str(path), "--out", str(tmp_path / f"{name}.net")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--backend lava-sim" in err
        assert ("residual" in err) if name == "res" else ("reset='soft'" in err)


@pytest.mark.parametrize("encoder", ["direct", "poisson"])
def test_onnx_export_matches_torch(tmp_path, capsys, encoder):
    import onnxruntime as ort

    model = tiny_vgg(encoder=encoder, T=4, leak=0.8, reset="soft", seed=5)
    path = save_model(model, tmp_path / "m.pt")
    assert main(["export", "--model", str(path), "--format", "onnx", "--out", str(tmp_path / "m.onnx"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["T"] == 4
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    x = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        if encoder == "direct":
            got, want = session.run(None, {"x": x.numpy()})[0], model(x).numpy()
        else:
            seq = (torch.rand(4, 3, 1, 8, 8) < 0.5).float()
            got, want = session.run(None, {"x": seq.numpy()})[0], model.run(seq)[0].mean(0).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
