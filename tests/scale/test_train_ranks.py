"""``torchrun -m snnsec train``: DistributedDataParallel over 2 gloo ranks, the same global batch,
test accuracy within 1 point of one process, and one model file (rank 0's); a 2-rank run killed
after its first epoch resumes from its checkpoint."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from snnsec.models import load_model
from tests.scale.conftest import env, in_process, run, torchrun_cmd
from tests.scale.test_craft_ranks import _descendants

pytestmark = pytest.mark.cost(35)  # rough CPU seconds under the suite: orders the xdist schedule

# Trained near convergence, so the comparison is not between two noisy runs. One process against
# two ranks (test accuracy), measured here: at 3 epochs with the default lr 2e-3 seed 0 gave 0.940
# and 0.927 (too noisy); at 5 epochs, seeds 1 and 2 gave 0.953/0.961 and 0.966/0.965; at 3 epochs
# with lr 5e-3, seeds 0, 1, 2 gave 0.961/0.962, 0.955/0.963, 0.965/0.967: the same accuracy and
# spread as 5 epochs for 3/5 of the training
ARGS = ["train", "--arch", "vgg5", "--dataset", "mnist5k", "--width", "0.5", "--T", "2", "--epochs", "3",
        "--lr", "5e-3", "--batch-size", "64", "--seed", "0", "--no-eval-each-epoch", "--device", "cpu",
        "--json", "--quiet"]  # gloo ranks on the CPU, also where torch sees one GPU (test_cuda.py: nccl)


def _kill_after_first_epoch(cmd: list[str], out: Path) -> None:
    """Start ``cmd`` in its own session and SIGKILL every process below it (torchrun's workers
    live in sessions of their own) as soon as rank 0 has written ``<out>.ckpt``."""
    ckpt = out.with_name(out.name + ".ckpt")
    # its stderr goes beside the run's folder (which must end with m.pt alone), for the message below
    log = out.parent.parent / f"{out.parent.name}-killed.stderr"
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, cwd=out.parent, env=env(threads=1), stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
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
    assert ckpt.is_file() and not out.exists(), (
        f"the kill must come after the first epoch and before the end (exit {proc.returncode}); "
        f"its stderr ends: {log.read_text(errors='replace')[-1500:]}")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One process (the CLI in this process, 1 torch thread) and 2 torchrun ranks train the same
    recipe; the 2-rank run is killed after its first epoch and started again, so it resumes from
    its checkpoint. Each training is paid once; the tests below assert on the results."""
    one, two = tmp_path_factory.mktemp("train-one"), tmp_path_factory.mktemp("train-two")
    r1 = in_process([*ARGS, "--out", str(one / "m.pt")], threads=1)
    assert r1.returncode == 0, r1.stderr
    cmd = torchrun_cmd(2, *ARGS, "--out", str(two / "m.pt"))
    _kill_after_first_epoch(cmd, two / "m.pt")
    r2 = run(cmd, cwd=two, timeout=900)
    assert r2.returncode == 0, r2.stderr
    return {"one": json.loads(r1.stdout), "two_stdout": r2.stdout, "two": two}


@pytest.mark.slow
def test_two_ranks_match_one_process(trained: dict[str, Any]) -> None:
    a1, two = trained["one"], trained["two"]
    lines = [line for line in trained["two_stdout"].splitlines() if line.strip()]
    assert len(lines) == 1, "only rank 0 prints"
    a2 = json.loads(lines[0])
    assert a1["test_accuracy"] > 0.9, a1  # it learned: the comparison is not between two chance levels
    assert abs(a2["test_accuracy"] - a1["test_accuracy"]) <= 0.01, (a1["test_accuracy"], a2["test_accuracy"])
    assert [h["epoch"] for h in a2["history"]] == [1, 2, 3]
    assert sorted(p.name for p in two.iterdir()) == ["m.pt"], "one model file; checkpoints removed"
    model = load_model(two / "m.pt")  # device-neutral, plain BatchNorm state
    assert model.meta.recipe["ranks"] == 2 and model.meta.recipe["batch_size"] == 64
    assert abs(model.meta.test_accuracy - a2["test_accuracy"]) < 1e-12


@pytest.mark.slow
def test_killed_two_rank_training_resumes_from_its_checkpoint(trained: dict[str, Any]) -> None:
    result = json.loads([line for line in trained["two_stdout"].splitlines() if line.strip()][-1])
    assert result["resumed_from_epoch"] >= 1
    assert [h["epoch"] for h in result["history"]] == [1, 2, 3]
    assert sorted(p.name for p in trained["two"].iterdir()) == ["m.pt"]


def test_global_batch_must_split_over_ranks(tmp_path: Path) -> None:
    r = run(torchrun_cmd(2, "train", "--arch", "vgg5", "--width", "0.25", "--T", "2", "--epochs", "1",
                         "--batch-size", "63", "--device", "cpu", "--out", str(tmp_path / "m.pt"), "--quiet"),
            cwd=tmp_path, timeout=300)
    assert r.returncode != 0
    assert "--batch-size 63 (the global batch) must be a multiple of the 2 ranks" in r.stderr
    assert not (tmp_path / "m.pt").exists()
