"""Acceptance: vggdvs trained on DVS-MNIST-5k (T = 10, two epochs on CPU) reaches >= 0.90 test accuracy."""

from __future__ import annotations

import json

import pytest

from snnsec.cli.main import main

pytestmark = pytest.mark.cost(90)  # rough CPU seconds under the suite: orders the xdist schedule


@pytest.mark.slow  # about 100 s on 2 idle cores (width 0.0625, frames generated included); see docs/datasets.md
def test_vggdvs_learns_dvs_mnist5k(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SNNSEC_CACHE_DIR", str(tmp_path / "cache"))
    rc = main(["train", "--arch", "vggdvs", "--dataset", "dvs-mnist5k", "--width", "0.0625", "--epochs", "2",
               "--lr", "5e-3", "--out", str(tmp_path / "dvs.pt"), "--json", "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    result = json.loads(out)
    assert result["T"] == 10 and result["test_samples"] == 1000
    assert result["test_accuracy"] >= 0.90
