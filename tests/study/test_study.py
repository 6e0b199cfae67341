"""`snnsec reproduce`: a tiny study end to end, checked against `snnsec evaluate` run by hand on
the same cells, and a run killed midway that finishes with the same bytes as one left alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from snnsec.cli.main import main
from snnsec.errors import InputError
from snnsec.study import StudySpec, cells_of

# 1 epoch on 2,048 digits at width 1/8: about 2 s, and clean accuracy well above chance, so the
# ASR of each cell is defined (lr 0.01: the default 2e-3 leaves this tiny net at chance)
TINY = """
name = "tiny"
width = 0.125
T = 2
epochs = 1
train_n = 2048
lr = 0.01
batch_size = 32
attacks = ["stbp-fgsm", "rga-fgsm"]
eps = {eps}
te = [1]
leaks = []
encoders = ["direct"]
black_box = false
ann = false
shuffle = false
n = 8
"""


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("SNNSEC_CACHE_DIR", str(folder))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return folder


def _study(tmp_path: Path, eps: str = '["0.1"]') -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.format(eps=eps))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    capsys.readouterr()
    assert main([*argv, "--json", "--quiet"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_tiny_study_matches_evaluate_by_hand(tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = _study(tmp_path)
    assert len(cells_of(StudySpec.from_toml(study))) == 2
    out = tmp_path / "out"
    summary = _run(capsys, "reproduce", "--study", str(study), "--out-dir", str(out))
    assert summary["cells"] == 2 and summary["computed"] == 2
    data = json.loads((out / "study.json").read_text())
    (model,) = sorted((cache / "study-models").glob("*.pt"))
    assert data["models"]["snn-l1-direct-s0"]["file"] == model.name
    assert data["models"]["snn-l1-direct-s0"]["test_accuracy"] > 0.3  # learned something: ASR is defined
    for cell in data["cells"]:
        by_hand = _run(capsys, "evaluate", "--model", str(model), "--attack", cell["attack"], "--eps", cell["eps"],
                       "--n", "8")
        assert cell["n"] == by_hand["n"] == 8
        assert cell["draws"] == 1
        assert cell["clean_accuracy"]["mean"] == by_hand["clean_accuracy"]
        assert cell["robust_accuracy"]["mean"] == by_hand["robust_accuracy"]
        assert cell["asr"]["mean"] == by_hand["asr"]
        assert cell["per_draw"][0]["fooled"] == by_hand["fooled"]
        assert cell["model_sha256"] == by_hand["model_sha256"]
    tables = (out / "tables.md").read_text()
    assert "Table 2" in tables and "n = 8" in tables
    assert (out / "fig6-eps.png").stat().st_size > 1000
    # a second run computes nothing and trains nothing
    again = _run(capsys, "reproduce", "--study", str(study), "--out-dir", str(out))
    assert again["computed"] == 0 and again["resumed"] == 2
    assert len(list((cache / "study-models").glob("*.pt"))) == 1


@pytest.mark.slow
def test_killed_study_resumes_to_the_same_json(tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = _study(tmp_path, eps='["0.05", "0.1", "0.2"]')  # 6 cells: room to kill between them
    whole = tmp_path / "whole"
    assert _run(capsys, "reproduce", "--study", str(study), "--out-dir", str(whole))["computed"] == 6
    killed = tmp_path / "killed"
    env = {**os.environ, "SNNSEC_PROGRESS": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "snnsec", "reproduce", "--study", str(study), "--out-dir", str(killed),
                             "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not list((killed / "cells").glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    finished = len(list((killed / "cells").glob("*.json")))
    assert 1 <= finished < 6, f"the kill should land between cells, found {finished} finished"
    resumed = _run(capsys, "reproduce", "--study", str(study), "--out-dir", str(killed))
    assert resumed["resumed"] == finished and resumed["computed"] == 6 - finished
    assert (killed / "study.json").read_bytes() == (whole / "study.json").read_bytes()
    assert (killed / "tables.md").read_bytes() == (whole / "tables.md").read_bytes()


def test_study_file_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nepsilon = ["0.1"]\n')
    with pytest.raises(InputError, match="epsilon"):
        StudySpec.from_toml(bad)
    bad.write_text("n = 0\n")
    with pytest.raises(InputError, match="n: expected a positive integer, got 0"):
        StudySpec.from_toml(bad)
    bad.write_text("leaks = [1.5]\n")
    with pytest.raises(InputError, match=r"leaks: expected numbers in \(0, 1\], got 1.5"):
        StudySpec.from_toml(bad)


@pytest.mark.slow
def test_another_spec_does_not_resume_into_the_same_folder(tmp_path: Path, cache: Path) -> None:
    from snnsec.study.engine import _open_out

    _open_out(tmp_path / "o", StudySpec(n=4))
    with pytest.raises(InputError, match="another spec"):
        _open_out(tmp_path / "o", StudySpec(n=5))


def test_presets_cover_the_paper_grid() -> None:
    from snnsec.study import preset

    spec = preset("mnist5k")
    cells = cells_of(spec)
    keys = {c.key for c in cells}
    assert len(keys) == len(cells)
    assert {c.box for c in cells} == {"white", "black"}
    assert {c.te for c in cells} == {1, 2, 3}
    assert {c.target.leak for c in cells} == {0.5, 0.75, 1.0}
    assert {c.target.encoder for c in cells} == {"direct", "poisson"}
    assert any(c.target.kind == "ann" for c in cells)
    assert preset("paper-cifar10").main_eps == "8/255"


def test_event_frames_get_no_time_extension_and_unknown_encoders_are_refused() -> None:
    from snnsec.study import preset

    cells = cells_of(preset("dvs-mnist5k", te=[1, 2, 3]))
    assert {c.te for c in cells} == {1}  # a recording is binned into exactly T frames
    with pytest.raises(InputError, match="unknown encoder .*'spikes'; choose one of: direct, frames, poisson"):
        StudySpec(encoders=["spikes"])


def test_report_keeps_eps_as_written_and_states_n(tmp_path: Path) -> None:
    """Tables and figures from study data alone (a CIFAR-style grid with fractional ε)."""
    from snnsec.study.report import markdown_tables, plot_all

    spec = StudySpec(name="frac", dataset="cifar10", arch="vgg11", eps=["4/255", "8/255"], eps_main="8/255", te=[1, 2],
                     leaks=[1.0], encoders=["direct"], n=8, black_box=False, ann=False, shuffle=False,
                     attacks=["stbp-fgsm", "rga-fgsm"])
    cells = []
    for i, cell in enumerate(cells_of(spec)):
        asr = 0.1 * (i + 1)
        cells.append({"key": cell.key, "target": cell.target.label, "source": cell.source.label, "box": cell.box,
                      "kind": "snn", "leak": cell.target.leak, "encoder": "direct", "attack": cell.attack,
                      "eps": cell.eps, "te": cell.te, "n": 8, "draws": 1, "asr": {"mean": asr, "std": 0.0},
                      "clean_accuracy": {"mean": 1.0, "std": 0.0}, "robust_accuracy": {"mean": 1 - asr, "std": 0.0}})
    data = {"study": spec.to_dict(), "main_eps": "8/255", "shuffle": [], "cells": cells,
            "models": {"snn-l1-direct-s0": {"kind": "snn", "leak": 1.0, "encoder": "direct", "T": 8, "seed": 0,
                                            "test_accuracy": 0.9}}}
    tables = markdown_tables(data)
    assert "| 8/255 | 30.00 | 40.00 |" in tables  # ε as written, ASR in %
    assert "ε = 8/255" in tables and "n = 8" in tables
    made = plot_all(data, tmp_path)
    assert set(made) == {"fig6_eps", "fig7_te", "fig8_leak"}
    assert all(p.stat().st_size > 5000 for p in made.values())
