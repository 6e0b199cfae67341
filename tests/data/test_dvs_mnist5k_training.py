"""Acceptance: vggdvs trained on DVS-MNIST-5k (T = 10, one epoch on CPU) reaches >= 0.90 test accuracy."""

from __future__ import annotations

import json

import pytest

from snnsec.cli.main import main

pytestmark = pytest.mark.cost(45)  # rough CPU seconds under the suite: orders the xdist schedule


# about 50 s on 2 idle cores (width 0.0625, frames generated included). One epoch at batch 8 reached
# 0.942, 0.929 and 0.928 for seeds 0, 1 and 2 on one thread (0.929 for seed 0 on two); batch 16 at
# lr 3e-3 gave 0.873 for seed 2, and two epochs at batch 64 cost twice as much. See docs/datasets.md.
@pytest.mark.slow
def test_vggdvs_learns_dvs_mnist5k(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SNNSEC_CACHE_DIR", str(tmp_path / "cache"))
    rc = main(["train", "--arch", "vggdvs", "--dataset", "dvs-mnist5k", "--width", "0.0625", "--epochs", "1",
               "--batch-size", "8", "--lr", "2e-3", "--out", str(tmp_path / "dvs.pt"), "--json", "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    result = json.loads(out)
    assert result["T"] == 10 and result["test_samples"] == 1000
    assert result["test_accuracy"] >= 0.90
