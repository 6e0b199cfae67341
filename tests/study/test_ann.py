"""The quantised-ANN baseline: its clamp-and-round activation against a plain reference, and
`snnsec train --ann` writing a file that craft/evaluate run on with the usual commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from snnsec.cli.main import main
from snnsec.errors import InputError
from snnsec.models import build_model, load_model
from snnsec.models.ann import QCFSNeuron, is_ann_twin, make_ann_twin, qcfs
from snnsec.neurons import LIF


def reference_qcfs(i: np.ndarray, theta: float, levels: int) -> np.ndarray:
    """Bu et al. (ICLR 2022) Eq. 13 with shift 1/2, written out in NumPy."""
    return theta / levels * np.floor(np.clip(i / theta, 0.0, 1.0) * levels + 0.5)


@pytest.mark.parametrize("theta,levels", [(1.0, 8), (0.5, 8), (2.0, 4), (1.0, 1)])
def test_qcfs_equals_a_plain_reference(theta: float, levels: int) -> None:
    gen = torch.Generator().manual_seed(levels)
    current = (torch.rand(4096, generator=gen, dtype=torch.float64) * 4 - 1.5) * theta
    current.requires_grad_(True)
    out = qcfs(current, theta, levels)
    want = reference_qcfs(current.detach().numpy(), theta, levels)
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=0, atol=1e-12)
    assert len(np.unique(want)) == levels + 1  # 0, theta/L, ..., theta
    out.sum().backward()  # straight-through floor: slope 1 on [0, theta], 0 outside
    inside = ((current >= 0) & (current <= theta)).double()
    assert torch.equal(current.grad, inside)


def test_the_twin_replaces_every_neuron_and_is_stateless() -> None:
    model = build_model("vgg5", 10, (1, 28, 28), T=1, width=0.125).eval()
    make_ann_twin(model, 8)
    layers = [m for m in model.modules() if isinstance(m, LIF)]
    assert layers and all(isinstance(m.neuron, QCFSNeuron) for m in layers)
    x = torch.rand(3, 1, 28, 28)
    # each layer's output is on the 8-level grid of its threshold
    seen = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: seen.append(out[0])) for m in layers]
    model(x)
    for h in hooks:
        h.remove()
    for out in seen:
        assert torch.allclose(out * 8, (out * 8).round(), atol=1e-5) and out.min() >= 0 and out.max() <= 1
    with pytest.raises(InputError, match="levels"):
        make_ann_twin(model, 0)


@pytest.mark.slow
def test_train_ann_writes_a_twin_that_craft_and_evaluate_use(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    path = tmp_path / "ann.pt"
    assert main(["train", "--ann", "--arch", "vgg5", "--width", "0.125", "--epochs", "1", "--lr", "0.01",
                 "--out", str(path), "--json", "--quiet", "--no-eval-each-epoch"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["T"] == 1
    model = load_model(path)
    assert is_ann_twin(model.meta) and model.meta.recipe["ann_twin"] == {"activation": "qcfs", "levels": 8}
    assert all(isinstance(m.neuron, QCFSNeuron) for m in model.modules() if isinstance(m, LIF))
    assert main(["evaluate", "--model", str(path), "--attack", "stbp-fgsm", "--eps", "0.1", "--n", "8",
                 "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 8 and report["clean_accuracy"] == pytest.approx(
        float((model.predict(report_inputs(8)[0]) == report_inputs(8)[1]).double().mean()))


def report_inputs(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n samples of the test split as craft/evaluate pick them."""
    from snnsec.data import get_dataset
    from snnsec.data.base import sample_indices, stack_samples

    data = get_dataset("mnist5k").split("test")
    return stack_samples(data, sample_indices(len(data), n))
