"""``torchrun -m snnsec craft`` shards batches across ranks; the file equals the single-process one,
byte for byte, and a killed run resumes under another number of ranks to the same bytes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.scale.conftest import env, in_process, run, snnsec_cmd, torchrun_cmd

pytestmark = [pytest.mark.slow, pytest.mark.cost(22)]  # real torchrun processes: seconds each to start

# 16 batches (each with its own seed): enough that a kill after 3 leaves work on a busy machine;
# fewer would save nothing, the cost here is process start-up, not crafting
N, BATCH = 48, 3


def craft_args(model: Path, out: Path) -> list[str]:
    return ["craft", "--model", str(model), "--attack", "rga-pgd", "--steps", "3", "--n", str(N),
            "--batch-size", str(BATCH), "--seed", "7", "--device", "cpu", "--out", str(out), "--json", "--quiet"]


@pytest.fixture(scope="module")
def reference(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The single-process file, crafted by the CLI in this process. (One process on 2 threads
    against ranks on 1 is test_shard_evaluate's reference: the same crafting, and its predictions.)"""
    out = tmp_path_factory.mktemp("craft-ref") / "adv.pt"
    r = in_process(craft_args(tiny_model, out))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["n"] == N
    return out.read_bytes()


def test_two_ranks_write_the_single_process_bytes(tiny_model: Path, reference: bytes, tmp_path: Path) -> None:
    out = tmp_path / "adv.pt"
    r = run(torchrun_cmd(2, *craft_args(tiny_model, out)), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"only rank 0 prints: {r.stdout!r}"  # one JSON object
    assert json.loads(lines[0])["batches"] == N // BATCH
    assert out.read_bytes() == reference
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adv.pt"], "one file, partial folder removed"


def _descendants(pid: int) -> list[int]:
    """Pids of every live process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kill_midway(cmd: list[str], out: Path) -> int:
    """Start ``cmd`` in its own process group, SIGKILL the whole group once a few batches are in
    ``<out>.partial/``, and return how many were."""
    partial = out.with_name(out.name + ".partial")
    # 1 thread (torchrun gives its ranks 1 anyway): a second one would only spin until the kill
    proc = subprocess.Popen(cmd, cwd=out.parent, env=env(threads=1), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(partial.glob("batch-*.pt"))) >= 3:
                break
            time.sleep(0.02)
    finally:
        # torchrun starts its workers in sessions of their own: kill them by pid, then the agent
        for pid in _descendants(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    done = len(list(partial.glob("batch-*.pt")))
    assert not out.exists() and 0 < done < N // BATCH, f"the kill came too late to test resuming ({done} batches)"
    return done


@pytest.mark.parametrize(("first", "second"), [(2, 1), (1, 2)])
def test_killed_run_resumes_under_other_rank_count(tiny_model: Path, reference: bytes, tmp_path: Path,
                                                   first: int, second: int) -> None:
    out = tmp_path / "adv.pt"
    args = craft_args(tiny_model, out)
    launch = (lambda n: torchrun_cmd(n, *args) if n > 1 else snnsec_cmd(*args))
    done = _kill_midway(launch(first), out)
    # the one process that resumes needs no interpreter of its own
    r = run(launch(second), cwd=tmp_path) if second > 1 else in_process(args)
    assert r.returncode == 0, r.stderr
    result = json.loads([line for line in r.stdout.splitlines() if line.strip()][-1])
    assert result["resumed_batches"] >= done
    assert out.read_bytes() == reference
