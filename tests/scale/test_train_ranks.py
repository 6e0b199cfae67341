"""``torchrun -m snnsec train``: DistributedDataParallel over 2 gloo ranks, the same global batch,
test accuracy within 1 point of one process, and one model file (rank 0's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snnsec.models import load_model
from tests.scale.conftest import run, snnsec_cmd, torchrun_cmd

# 5 epochs: near convergence, where the run-to-run spread of test accuracy is well under a point
ARGS = ["train", "--arch", "vgg5", "--dataset", "mnist5k", "--width", "0.5", "--T", "2", "--epochs", "5",
        "--batch-size", "64", "--seed", "0", "--no-eval-each-epoch", "--json", "--quiet"]


@pytest.mark.slow
def test_two_ranks_match_one_process(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    r1 = run(snnsec_cmd(*ARGS, "--out", str(one / "m.pt")), cwd=one, timeout=900, threads=1)
    assert r1.returncode == 0, r1.stderr
    r2 = run(torchrun_cmd(2, *ARGS, "--out", str(two / "m.pt")), cwd=two, timeout=900)
    assert r2.returncode == 0, r2.stderr
    a1 = json.loads(r1.stdout)
    lines = [line for line in r2.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, "only rank 0 prints"
    a2 = json.loads(lines[0])
    assert a1["test_accuracy"] > 0.9, a1  # it learned: the comparison is not between two chance levels
    assert abs(a2["test_accuracy"] - a1["test_accuracy"]) <= 0.01, (a1["test_accuracy"], a2["test_accuracy"])
    assert [h["epoch"] for h in a2["history"]] == [1, 2, 3, 4, 5]
    assert sorted(p.name for p in two.iterdir()) == ["m.pt"], "one model file; checkpoints removed"
    model = load_model(two / "m.pt")  # device-neutral, plain BatchNorm state
    assert model.meta.recipe["ranks"] == 2 and model.meta.recipe["batch_size"] == 64
    assert abs(model.meta.test_accuracy - a2["test_accuracy"]) < 1e-12


def test_global_batch_must_split_over_ranks(tmp_path: Path) -> None:
    r = run(torchrun_cmd(2, "train", "--arch", "vgg5", "--width", "0.25", "--T", "2", "--epochs", "1",
                         "--batch-size", "63", "--out", str(tmp_path / "m.pt"), "--quiet"), cwd=tmp_path, timeout=300)
    assert r.returncode != 0
    assert "--batch-size 63 (the global batch) must be a multiple of the 2 ranks" in r.stderr
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.slow
def test_killed_two_rank_training_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    import contextlib
    import os
    import signal
    import subprocess
    import time

    from tests.scale.conftest import env
    from tests.scale.test_craft_ranks import _descendants

    out = tmp_path / "m.pt"
    args = ["train", "--arch", "vgg5", "--width", "0.25", "--T", "2", "--epochs", "3", "--batch-size", "64",
            "--out", str(out), "--json", "--quiet"]
    ckpt = out.with_name(out.name + ".ckpt")
    proc = subprocess.Popen(torchrun_cmd(2, *args), cwd=tmp_path, env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None and not ckpt.is_file():
            time.sleep(0.05)
    finally:
        for pid in _descendants(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert ckpt.is_file() and not out.exists(), "the kill must come after the first epoch and before the end"
    r = run(torchrun_cmd(2, *args), cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stderr
    result = json.loads([line for line in r.stdout.splitlines() if line.strip()][-1])
    assert result["resumed_from_epoch"] >= 1
    assert [h["epoch"] for h in result["history"]] == [1, 2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]
