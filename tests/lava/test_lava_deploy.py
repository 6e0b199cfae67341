"""deploy: the report, the one-runtime stream, and that no Lava worker outlives a run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from snnsec.data.adversarial import AdversarialSet, save_adversarial
from snnsec.cli.main import main
from snnsec.models import save_model
from tests.lava.tiny_models import tiny_vgg

pytestmark = [pytest.mark.lava, pytest.mark.cost(11)]

REPO = Path(__file__).resolve().parents[2]


def _adv_file(path: Path, n: int, seed: int = 0) -> Path:
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 8, 8, generator=gen)
    x_adv = (x + 0.3 * torch.sign(torch.randn(x.shape, generator=gen))).clamp(0, 1)
    y = torch.randint(0, 3, (n,), generator=gen)
    return save_adversarial(path, AdversarialSet(x, x_adv, y, torch.arange(n), {"attack": "test noise"}))


def _live_children(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` and that are not zombies (/proc scan, no psutil)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry))
    return members


def test_deploy_reports_agreement_and_transfer_as_one_json_object(tmp_path, capsys):
    model = tiny_vgg(encoder="direct", T=3, seed=2)
    path = save_model(model, tmp_path / "m.pt")
    adv = _adv_file(tmp_path / "adv.pt", 6)
    code = main(["deploy", "--model", str(path), "--backend", "lava-sim", "--precision", "float",
                 "--adv", str(adv), "--n", "5", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("agreement", "clean_accuracy", "asr_backend", "asr_torch", "transfer_ratio", "n"):
        assert key in report
    assert report["n"] == 5
    assert report["agreement"] == 1.0 and report["adv_agreement"] == 1.0  # float Lava == torch here
    assert report["backend_info"]["builder"] == "lava-nc" and report["backend_info"]["steps"] == 2 * 5 * 3 + 5
    if report["asr_torch"]:
        assert report["transfer_ratio"] == pytest.approx(report["asr_backend"] / report["asr_torch"])


def test_loihi2_without_lava_loihi_fails_in_one_line(tmp_path, capsys):
    path = save_model(tiny_vgg(T=2), tmp_path / "m.pt")
    assert main(["deploy", "--model", str(path), "--backend", "loihi2", "--adv", str(_adv_file(tmp_path / "a.pt", 2))]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lava-loihi" in err and "docs/deployment.md" in err


def test_runtime_is_stopped_and_workers_gone_when_the_stream_fails():
    from snnsec.backends.lava.network import process_network
    from snnsec.backends.lava.runner import stream
    from snnsec.export.graph import model_graph
    from snnsec.export.quantize import quantize

    before = set(_live_children(os.getpid()))
    fixed = quantize(model_graph(tiny_vgg(T=2)))
    msgs = np.zeros((6, 2, 1, 8, 8), dtype=np.int64)

    def boom(done: int) -> None:
        assert _live_children(os.getpid()), "the Lava workers should be running mid-stream"
        raise RuntimeError(f"failure after {done} samples")

    with pytest.raises(RuntimeError, match="failure after 2 samples"):
        stream(process_network(fixed, "fixed"), msgs, chunk=2, on_progress=boom)
    deadline = time.time() + 10
    while set(_live_children(os.getpid())) - before and time.time() < deadline:
        time.sleep(0.2)
    assert not set(_live_children(os.getpid())) - before


@pytest.mark.slow
def test_sigint_stops_deploy_cleanly_and_leaves_no_lava_workers(tmp_path):
    path = save_model(tiny_vgg(encoder="direct", T=4), tmp_path / "m.pt")
    adv = _adv_file(tmp_path / "adv.pt", 400)
    env = {**os.environ, "PYTHONPATH": str(REPO), "SNNSEC_PROGRESS": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "snnsec", "deploy", "--model", str(path), "--adv", str(adv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)  # its own process group, like a terminal job
    lines: list[str] = []
    started = threading.Event()

    def read_stderr() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            lines.append(line)
            if "streaming" in line:
                started.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert started.wait(120), "deploy never started streaming:\n" + "".join(lines)
        workers = _group_members(proc.pid)
        assert len(workers) > 5  # the Lava runtime forked its workers into the group
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole group gets it
        code = proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    reader.join(5)
    assert code == 130, "".join(lines)
    assert "snnsec: interrupted" in "".join(lines)
    assert "Traceback" not in "".join(lines)
    deadline = time.time() + 10
    while _group_members(proc.pid) and time.time() < deadline:
        time.sleep(0.2)
    leftover = _group_members(proc.pid)
    for pid in leftover:
        os.kill(pid, signal.SIGKILL)
    assert not leftover, f"Lava workers left behind: {leftover}"


def test_evaluate_with_the_lava_backend_reports_what_torch_reports_in_float(tmp_path, capsys):
    path = save_model(tiny_vgg(encoder="direct", T=3, seed=4), tmp_path / "m.pt")
    adv = _adv_file(tmp_path / "adv.pt", 8, seed=3)
    reports = []
    for extra in ([], ["--backend", "lava-sim", "--precision", "float"]):
        assert main(["evaluate", "--model", str(path), "--adv", str(adv), "--json", *extra]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    torch_report, lava_report = reports
    for key in ("clean_accuracy", "robust_accuracy", "asr"):
        assert lava_report[key] == torch_report[key]
