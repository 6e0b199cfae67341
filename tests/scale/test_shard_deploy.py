"""``torchrun -m snnsec deploy`` shards its batches across ranks (lava-sim: one runtime per rank):
rank 0 writes the single-process report, the same JSON apart from the run-specific fields
(wall seconds, samples/s, lava-sim's simulated steps), a killed or stopped run resumes under
another number of ranks, and one rank's failure stops them all."""

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

from snnsec.backends.batched import RUN_SPECIFIC_INFO
from tests.scale.conftest import env, in_process, run, snnsec_cmd, torchrun_cmd
from tests.scale.test_craft_ranks import _descendants

pytestmark = [pytest.mark.slow, pytest.mark.cost(55)]  # real torchrun processes: seconds each to start

N_ADV, EVAL = 30, 4  # 8 batches of clean + adversarial samples, the last one short


def deploy_args(model: Path, backend: str, out: Path, *extra: str) -> list[str]:
    return ["deploy", "--model", str(model), "--backend", backend, "--eval-batch-size", str(EVAL), "--seed", "3",
            "--device", "cpu", "--out", str(out), "--json", "--quiet", *extra]


def without_run_specific(text: str) -> dict[str, Any]:
    """A deploy report without the fields that describe how the run went, not what it computed:
    ``seconds`` and backend_info's :data:`RUN_SPECIFIC_INFO`."""
    report = json.loads(text)
    report.pop("seconds")
    for key in RUN_SPECIFIC_INFO:
        report.get("backend_info", {}).pop(key, None)
    return report


def only_line(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"only rank 0 prints, one JSON object: {stdout!r}"
    return lines[0]


def kill_midway(cmd: list[str], out: Path, n_batches: int, signum: int = signal.SIGKILL,
                at_least: int = 3, launcher_only: bool = False) -> int:
    """Start ``cmd`` in its own session; once ``at_least`` batches are in ``<out>.partial/``, stop
    it: SIGKILL every process below it (torchrun's workers live in sessions of their own), or send
    ``signum`` to the torchrun agent (or snnsec) alone, which passes it on. ``launcher_only`` with
    SIGKILL kills the torchrun agent alone, which can pass nothing on: its ranks must notice and stop
    by themselves (snnsec.utils.process.stop_with_launcher). Returns the finished batches."""
    partial = out.with_name(out.name + ".partial")
    # 1 thread (torchrun gives its ranks 1 anyway): a second one would only spin until the kill
    proc = subprocess.Popen(cmd, cwd=out.parent, env=env(threads=1), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    family: list[int] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(partial.glob("batch-*.pt"))) >= at_least:
                break
            time.sleep(0.02)
        family = _descendants(proc.pid)
        if signum == signal.SIGKILL and launcher_only:
            proc.kill()
            proc.wait(timeout=60)
            deadline = time.monotonic() + 60  # the ranks unwind as on SIGTERM: seconds on a busy machine
            while time.monotonic() < deadline and any(_alive(pid) for pid in family):
                time.sleep(0.05)
            alive = [pid for pid in family if _alive(pid)]
            assert not alive, f"ranks outlived their killed launcher by 60 s: {alive}"
        elif signum == signal.SIGKILL:
            for pid in family:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.send_signal(signum)
        proc.wait(timeout=90)
    finally:
        for pid in _descendants(proc.pid) if proc.poll() is None else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    if signum != signal.SIGKILL:
        assert proc.returncode != 0, "a stopped run must not report success"
        alive = [pid for pid in family if _alive(pid)]
        assert not alive, f"workers outlived the stop signal: {alive}"
    done = len(list(partial.glob("batch-*.pt")))
    assert not out.exists() and 0 < done < n_batches, f"the stop came too late to test resuming ({done} batches)"
    return done


def _alive(pid: int) -> bool:
    """A process that still runs (an exited one that its parent has not reaped yet does not)."""
    return Path(f"/proc/{pid}").exists() and "(Z)" not in _state(pid)


def _state(pid: int) -> str:
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return f"({stat.rsplit(')', 1)[1].split()[0]})"
    return "(Z)"


@pytest.fixture(scope="module")
def adv_file(trained_tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deploy-adv") / "adv.pt"
    r = in_process(["craft", "--model", str(trained_tiny), "--attack", "rga-fgsm", "--n", str(N_ADV),
                    "--batch-size", "10", "--device", "cpu", "--out", str(out), "--quiet"])
    assert r.returncode == 0, r.stderr
    return out


def _one_and_two_ranks(model: Path, backend: str, adv: Path, tmp_path: Path) -> tuple[str, str]:
    """The report of one process (the CLI in this process, on 2 torch threads) and of 2 torchrun
    ranks (1 thread each): the report must depend on neither."""
    texts = []
    for ranks in (1, 2):
        out = tmp_path / f"report-{ranks}.json"
        args = deploy_args(model, backend, out, "--adv", str(adv))
        r = run(torchrun_cmd(ranks, *args), cwd=tmp_path) if ranks > 1 else in_process(args, threads=2)
        assert r.returncode == 0, r.stderr
        assert only_line(r.stdout) + "\n" == out.read_text(), "--out holds the line --json prints"
        texts.append(out.read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report-1.json", "report-2.json"], "partial folders removed"
    return texts[0], texts[1]


def test_two_ranks_report_what_one_process_reports(trained_tiny: Path, adv_file: Path, tmp_path: Path) -> None:
    one, two = _one_and_two_ranks(trained_tiny, "torch", adv_file, tmp_path)
    report = without_run_specific(one)
    assert report["n"] == N_ADV and 0 < report["clean_accuracy"] < 1 and report["backend"] == "torch"
    assert json.dumps(without_run_specific(two)) == json.dumps(report)


def test_poisson_draws_follow_the_batch_not_the_rank(poisson_tiny: Path, adv_file: Path, tmp_path: Path) -> None:
    """loihi2-emu on a Poisson model: each batch's input comes from the seed of its number, so the
    same report on any number of ranks, and another --seed draws other spikes (so the comparison
    can fail). (A direct-encoded model takes the same sharded path without the draws.)"""
    one, two = _one_and_two_ranks(poisson_tiny, "loihi2-emu", adv_file, tmp_path)
    report = without_run_specific(one)
    assert report["n"] == N_ADV and 0 < report["clean_accuracy"] < 1 and report["backend"] == "loihi2-emu"
    assert json.dumps(without_run_specific(two)) == json.dumps(report)
    # the emulator's steps (T = 4 per sample, clean and adversarial) do not depend on how the run was cut
    assert json.loads(one)["backend_info"]["steps"] == json.loads(two)["backend_info"]["steps"] == 2 * N_ADV * 4
    other = tmp_path / "other-seed.json"
    args = deploy_args(poisson_tiny, "loihi2-emu", other, "--adv", str(adv_file))
    args[args.index("--seed") + 1] = "4"
    r = in_process(args)
    assert r.returncode == 0, r.stderr
    figures = ("clean_accuracy", "torch_clean_accuracy", "agreement", "adv_accuracy", "torch_adv_accuracy", "adv_agreement")
    assert [json.loads(one)[k] for k in figures] != [json.loads(other.read_text())[k] for k in figures]


@pytest.mark.lava
def test_lava_sim_one_runtime_per_rank_reports_what_one_runtime_reports(trained_tiny: Path, adv_file: Path,
                                                                        tmp_path: Path) -> None:
    one, two = _one_and_two_ranks(trained_tiny, "lava-sim", adv_file, tmp_path)
    report = without_run_specific(one)
    assert report["backend_info"]["precision"] == "fixed" and report["n"] == N_ADV
    assert json.dumps(without_run_specific(two)) == json.dumps(report)
    # one pipeline drain (latency steps) per runtime: one runtime per rank
    latency = report["backend_info"]["latency_steps"]
    assert json.loads(one)["backend_info"]["steps"] == 2 * N_ADV * 2 + latency
    assert json.loads(two)["backend_info"]["steps"] == 2 * N_ADV * 2 + 2 * latency


N_CLEAN, SMALL = 360, 2  # 180 batches of clean test digits: long enough to stop midway


@pytest.fixture(scope="module")
def clean_reference(trained_tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("deploy-ref") / "report.json"
    args = deploy_args(trained_tiny, "loihi2-emu", out, "--n", str(N_CLEAN))
    args[args.index("--eval-batch-size") + 1] = str(SMALL)
    r = in_process(args)
    assert r.returncode == 0, r.stderr
    return out.read_text()


@pytest.mark.parametrize(("first", "second", "signum"), [(2, 1, signal.SIGTERM), (1, 2, signal.SIGINT)])
def test_stopped_deploy_resumes_under_other_rank_count(trained_tiny: Path, clean_reference: str, tmp_path: Path,
                                                       first: int, second: int, signum: int) -> None:
    out = tmp_path / "report.json"
    args = deploy_args(trained_tiny, "loihi2-emu", out, "--n", str(N_CLEAN))
    args[args.index("--eval-batch-size") + 1] = str(SMALL)
    launch = (lambda n: torchrun_cmd(n, *args) if n > 1 else snnsec_cmd(*args))
    kill_midway(launch(first), out, N_CLEAN // SMALL, signum=signum)
    # the one process that resumes needs no interpreter of its own
    r = run(launch(second), cwd=tmp_path) if second > 1 else in_process(args)
    assert r.returncode == 0, r.stderr
    assert json.dumps(without_run_specific(only_line(r.stdout))) == json.dumps(without_run_specific(clean_reference))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_one_failing_rank_stops_every_rank(trained_tiny: Path, adv_file: Path, tmp_path: Path) -> None:
    """Batch 1 goes to rank 1, which cannot write it (a folder of that name is in the way): rank 1
    fails, rank 0 learns of it at the next collective, both stop, finished batches stay."""
    out = tmp_path / "report.json"
    trap = out.with_name(out.name + ".partial") / "batch-000001.pt"
    trap.mkdir(parents=True)
    (trap / "in-the-way").write_text("x")
    r = run(torchrun_cmd(2, *deploy_args(trained_tiny, "torch", out, "--adv", str(adv_file))), cwd=tmp_path)
    assert r.returncode != 0
    assert "another rank failed" in r.stderr, r.stderr[-2000:]
    assert not out.exists()
    assert len(list(trap.parent.glob("batch-*.pt"))) > 1, "rank 0's finished batches stay for a resume"
