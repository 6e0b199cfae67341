"""The main job end to end: cached model -> attacks -> one Lava runtime -> report files."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = pytest.mark.lava


def test_demo_chain_writes_report_and_resumes(demo_model_path, tmp_path, monkeypatch) -> None:
    from snnsec import demo

    monkeypatch.setenv("SNNSEC_CACHE_DIR", str(demo_model_path.parent.parent))
    assert demo.demo_model_path() == demo_model_path  # the session model is the demo's cached model
    out = tmp_path / "run"
    report = demo.run_demo(out_dir=out, n=12, attacks=("stbp-fgsm", "rga-pgd"))

    assert report["trained_now"] is False and report["n"] == 12
    assert set(report["attacks"]) == {"stbp-fgsm", "rga-pgd"}
    assert report["backend"] == "lava-sim" and report["backend_info"]["precision"] == "fixed"
    # all 36 samples (clean + two attacks) went through a single runtime
    assert report["backend_info"]["steps"] >= 36 * 4
    assert report["agreement"] >= 0.9
    for row in report["attacks"].values():
        assert 0.0 <= row["asr_torch"] <= 1.0 and 0.0 <= row["asr_backend"] <= 1.0
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["attacks"] == json.loads(json.dumps(report["attacks"]))
    md = (out / "report.md").read_text()
    assert "| rga-pgd |" in md and "transfer.png" in md
    assert (out / "transfer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "ASR lava-sim" in report["summary"]

    # a second run reuses the adversarial files instead of crafting again
    stamps = {p.name: os.stat(p).st_mtime_ns for p in out.glob("adv-*.pt")}
    again = demo.run_demo(out_dir=out, n=12, attacks=("stbp-fgsm", "rga-pgd"))
    assert {p.name: os.stat(p).st_mtime_ns for p in out.glob("adv-*.pt")} == stamps
    assert again["attacks"] == report["attacks"]
