"""The demo's lava-sim cross-check runs in a child process: its result, its reuse, and its stop
(one test, so that the check that is stopped is also the "other inputs: a new run" case)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.lava, pytest.mark.slow, pytest.mark.cost(12)]


def _model_file(tmp_path: Path) -> Path:
    from snnsec.models import save_model

    from tests.lava.tiny_models import tiny_vgg

    path = tmp_path / "tiny.pt"
    save_model(tiny_vgg(encoder="direct", T=4), path)
    return path


def _steps(path: Path, n: int):
    import torch

    from snnsec.backends.base import input_steps
    from snnsec.models import load_model

    model = load_model(path)
    x = torch.rand((n, 1, 8, 8), generator=torch.Generator().manual_seed(3))
    return input_steps(model, x, 0)


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if text in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(pid))
            except OSError:
                pass
    return found


def test_child_compares_lava_with_the_emulator_its_result_is_reused_and_closing_it_stops_lava(tmp_path) -> None:
    from snnsec.demo.lava_check import LavaCheck

    path = _model_file(tmp_path)
    steps = _steps(path, 5)
    check = LavaCheck(path, steps, tmp_path, "fixed", spikes=True)
    assert check.proc is not None and not check.reused
    result = check.result()
    assert result["identical"] is True and result["first_difference"] is None and result["spikes_compared"] is True
    assert len(result["lava_labels"]) == 5 and result["lava_labels"] == result["emulator_labels"]
    assert result["lava_info"]["backend"] == "lava-sim" and result["lava_info"]["steps"] >= 5 * 4
    assert not check.steps_path.exists()
    stored = (tmp_path / "lava-check.json").read_bytes()
    again = LavaCheck(path, steps, tmp_path, "fixed", spikes=True)  # same model and inputs: no Lava run
    assert again.proc is None and again.result()["reused"] is True
    readout_only = LavaCheck(path, steps, tmp_path, "fixed")  # another comparison: a new run
    try:
        assert readout_only.proc is not None
    finally:  # not needed further: killed before it imports torch and Lava (close() is tested below)
        if readout_only.proc is not None:
            readout_only.proc.kill()
        readout_only.close()

    # other inputs (3,000 samples, far more than it can finish): a new run, which is then closed
    # while Lava runs; the child and Lava's forked workers end and no result is written
    other = LavaCheck(path, _steps(path, 3000), tmp_path, "fixed")
    try:
        assert other.proc is not None and not other.reused
        marker = str(other.steps_path)
        deadline = time.monotonic() + 120  # the child imports, compiles and forks Lava's workers
        while len(_processes_mentioning(marker)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        assert other.proc is not None and other.proc.poll() is None, "the check ended before it could be stopped"
        assert len(_processes_mentioning(marker)) > 2  # the child and its forked Lava workers
        started = time.monotonic()
    finally:
        other.close()
    assert time.monotonic() - started < 30
    deadline = time.monotonic() + 10
    while _processes_mentioning(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_mentioning(marker) == []
    assert not other.steps_path.exists() and (tmp_path / "lava-check.json").read_bytes() == stored
