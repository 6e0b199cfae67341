"""``torchrun -m snnsec evaluate`` shards its batches (crafting, then predictions) across ranks:
rank 0 prints the single-process report and writes the single-process files, byte for byte, and
a killed run resumes under another number of ranks to the same bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.scale.conftest import in_process, run, snnsec_cmd, torchrun_cmd
from tests.scale.test_shard_deploy import kill_midway

pytestmark = [pytest.mark.slow, pytest.mark.cost(35)]  # real torchrun processes: seconds each to start

N, BATCH, EVAL = 48, 3, 7  # 16 crafting batches, 7 prediction batches (the last one short)


def attack_args(model: Path, out: Path) -> list[str]:
    return ["evaluate", "--model", str(model), "--attack", "rga-pgd", "--steps", "3", "--n", str(N),
            "--batch-size", str(BATCH), "--eval-batch-size", str(EVAL), "--seed", "7", "--device", "cpu",
            "--out", str(out), "--json", "--quiet"]


def only_line(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"only rank 0 prints, one JSON object: {stdout!r}"
    return lines[0]


@pytest.fixture(scope="module")
def reference(trained_tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    """The single-process report line and adversarial file of ``evaluate --attack``: the CLI in
    this process on 2 torch threads, the ranks below run 1 thread each, so the crafted bytes and
    the labels must not depend on the thread count (on a busy machine with OMP_NUM_THREADS=1 in
    the environment, as under xdist, the second thread costs ~6 CPU-s of spinning here: paid once)."""
    out = tmp_path_factory.mktemp("evaluate-ref") / "adv.pt"
    r = in_process(attack_args(trained_tiny, out), threads=2)
    assert r.returncode == 0, r.stderr
    line = only_line(r.stdout)
    report = json.loads(line)
    assert report["n"] == N
    assert 0 < report["clean_accuracy"] < 1, "the model must predict several classes for the test to mean anything"
    assert sorted(p.name for p in out.parent.iterdir()) == ["adv.pt"], "partial folder removed"
    return line, out.read_bytes()


def test_attack_under_two_ranks_equals_one_process(trained_tiny: Path, reference: tuple[str, bytes],
                                                   tmp_path: Path) -> None:
    out = tmp_path / "adv.pt"
    r = run(torchrun_cmd(2, *attack_args(trained_tiny, out)), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert only_line(r.stdout) == reference[0]
    assert out.read_bytes() == reference[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adv.pt"], "one file, partial folder removed"


def adv_args(model: Path, adv: Path, out: Path, seed: str = "7") -> list[str]:
    return ["evaluate", "--model", str(model), "--adv", str(adv), "--eval-batch-size", str(EVAL), "--seed", seed,
            "--device", "cpu", "--out", str(out), "--json", "--quiet"]


def test_adversarial_file_in_one_process_gives_the_attack_labels(trained_tiny: Path, reference: tuple[str, bytes],
                                                                 tmp_path: Path) -> None:
    """``evaluate --adv`` on the file ``evaluate --attack`` wrote: the same labels as the report it
    printed (same model, samples and seed). Its 2-rank twin is the Poisson test below: the same
    sharded path, plus per-batch draws."""
    adv = tmp_path / "adv.pt"
    adv.write_bytes(reference[1])
    out = tmp_path / "report.json"
    r = in_process(adv_args(trained_tiny, adv, out))
    assert r.returncode == 0, r.stderr
    assert only_line(r.stdout) + "\n" == out.read_text(), "--out holds the line --json prints"
    saved, crafted = json.loads(out.read_bytes()), json.loads(reference[0])
    for key in ("clean_accuracy", "robust_accuracy", "asr", "per_class"):
        assert saved[key] == crafted[key], key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adv.pt", "report.json"]


def test_adversarial_file_under_two_ranks_equals_one_process(poisson_tiny: Path, reference: tuple[str, bytes],
                                                             tmp_path: Path) -> None:
    """``evaluate --adv`` of a Poisson model: each prediction batch draws its input from the seed of
    its number, not of its rank, so 2 ranks write the one-process bytes (and another --seed gives
    other labels, so the comparison can fail)."""
    adv = tmp_path / "adv.pt"
    adv.write_bytes(reference[1])
    reports = {}
    for ranks, seed in ((1, "7"), (2, "7"), (1, "8")):
        out = tmp_path / f"report-{ranks}-{seed}.json"
        args = adv_args(poisson_tiny, adv, out, seed)
        r = run(torchrun_cmd(2, *args), cwd=tmp_path) if ranks > 1 else in_process(args)
        assert r.returncode == 0, r.stderr
        assert only_line(r.stdout) + "\n" == out.read_text(), "--out holds the line --json prints"
        reports[ranks, seed] = out.read_bytes()
    assert reports[1, "7"] == reports[2, "7"]
    assert json.loads(reports[1, "7"])["per_class"] != json.loads(reports[1, "8"])["per_class"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adv.pt", *sorted(f"report-{r}-{s}.json" for r, s in reports)]


@pytest.mark.parametrize(("first", "second"), [(2, 1), (1, 2)])
def test_killed_evaluate_resumes_under_other_rank_count(trained_tiny: Path, reference: tuple[str, bytes],
                                                        tmp_path: Path, first: int, second: int) -> None:
    """2 -> 1: SIGKILL to the torchrun agent alone; its ranks stop by themselves (they would
    otherwise finish the job, or wait on the dead agent's store). 1 -> 2: SIGKILL to snnsec."""
    out = tmp_path / "adv.pt"
    args = attack_args(trained_tiny, out)
    launch = (lambda n: torchrun_cmd(n, *args) if n > 1 else snnsec_cmd(*args))
    done = kill_midway(launch(first), out, N // BATCH, launcher_only=first > 1)
    assert done >= 3
    # the one process that resumes needs no interpreter of its own
    r = run(launch(second), cwd=tmp_path) if second > 1 else in_process(args)
    assert r.returncode == 0, r.stderr
    assert only_line(r.stdout) == reference[0]
    assert out.read_bytes() == reference[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adv.pt"]
