"""The main job end to end: cached model -> attacks -> loihi2-emu on every digit, lava-sim on the
first K (a child process) -> report files; resumes; fails loudly when the two backends differ."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = [pytest.mark.lava, pytest.mark.cost(9)]


def _check_report_files(out, report) -> None:
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["attacks"] == json.loads(json.dumps(report["attacks"]))
    assert on_disk["cross_check"] == json.loads(json.dumps(report["cross_check"]))
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporaries
    md = (out / "report.md").read_text()
    assert f"## loihi2-emu on {report['n']} digits" in md and f"## lava-sim on the first {report['check_lava']} digits" in md
    assert "| rga-pgd |" in md and "transfer.png" in md and "## Cross-check" in md
    assert (out / "transfer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_chain_emulates_all_digits_cross_checks_lava_and_resumes(demo_model_path, tmp_path, monkeypatch) -> None:
    from snnsec import demo
    from snnsec.demo.lava_check import LAVA_CHECK_FILE
    from snnsec.errors import SnnsecError

    monkeypatch.setenv("SNNSEC_CACHE_DIR", str(demo_model_path.parent.parent))
    assert demo.demo_model_path() == demo_model_path  # the session model is the demo's cached model
    out = tmp_path / "run"
    attacks = ("stbp-fgsm", "rga-pgd")
    report = demo.run_demo(out_dir=out, n=24, check_lava=4, attacks=attacks)

    assert report["trained_now"] is False
    # the emulator on all 24 digits of every set, in ONE batched run of 3 x 24 samples
    assert report["backend"] == "loihi2-emu" and report["n"] == 24
    assert report["backend_info"]["precision"] == "fixed" and report["backend_info"]["steps"] == 3 * 24 * 4
    assert set(report["attacks"]) == set(attacks)
    # lava-sim on the first 4 digits of every set, in one runtime of 12 samples
    lava = report["lava"]
    assert lava["backend"] == "lava-sim" and lava["n"] == 4 and set(lava["attacks"]) == set(attacks)
    assert lava["backend_info"]["precision"] == "fixed" and lava["backend_info"]["steps"] >= 12 * 4
    for row in [*report["attacks"].values(), *lava["attacks"].values()]:
        assert 0.0 <= row["asr_torch"] <= 1.0 and 0.0 <= row["asr_backend"] <= 1.0 and row["eps"] == "0.2"
    assert report["agreement"] >= 0.9
    cross = report["cross_check"]
    assert cross["precision"] == "fixed" and cross["samples"] == 12 and cross["sets"] == ["clean", *attacks]
    assert cross["identical"] is True and cross["first_difference"] is None and cross["spikes_compared"] is False
    assert cross["predictions_equal"] == 12 and cross["agree"] is True and cross["reused"] is False
    assert report["check_lava"] == 4 and report["timings_s"]["total"] > 0
    _check_report_files(out, report)
    assert "ASR loihi2-emu" in report["summary"] and "ASR lava-sim" in report["summary"]
    assert "loihi2-emu = lava-sim (fixed point) on 12 samples" in report["summary"]
    assert not (out / "lava-check-input.npy").exists()  # the child's input is removed once it is done

    # a second run reuses the adversarial files and Lava's result instead of computing them again
    stamps = {p.name: os.stat(p).st_mtime_ns for p in out.glob("adv-*.pt")}
    again = demo.run_demo(out_dir=out, n=24, check_lava=4, attacks=attacks)
    assert {p.name: os.stat(p).st_mtime_ns for p in out.glob("adv-*.pt")} == stamps
    assert again["attacks"] == report["attacks"] and again["lava"]["attacks"] == lava["attacks"]
    assert again["cross_check"]["reused"] is True and again["cross_check"]["agree"] is True

    # a Lava result that differs from the emulator (here: one label and one spike, edited into
    # the stored result) fails the demo in one line naming set, sample, layer and step; the
    # report files still say so
    path = out / LAVA_CHECK_FILE
    stored = json.loads(path.read_text())
    stored["lava_labels"][5] = (stored["lava_labels"][5] + 1) % 10
    stored["identical"] = False
    stored["first_difference"] = {"sample": 5, "layer": "body.6", "step": 2, "what": "spikes"}
    path.write_text(json.dumps(stored))
    with pytest.raises(SnnsecError, match=r"stbp-fgsm sample 1, layer body\.6, step 2 \(spikes\)"):
        demo.run_demo(out_dir=out, n=24, check_lava=4, attacks=attacks)
    flagged = json.loads((out / "report.json").read_text())["cross_check"]
    assert flagged["agree"] is False and flagged["predictions_differ"] == 1
    assert flagged["first_prediction_difference"] == {"set": "stbp-fgsm", "sample": 1}
    assert "LOIHI2-EMU DIFFERS FROM LAVA-SIM" in (out / "report.md").read_text()


# The demo at its default n (all 1,000 digits, four attacks): tests/lava/test_lava_demo_model.py,
# whose one demo run also feeds the 300-sample lava-sim run there.
