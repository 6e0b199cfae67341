"""``run_batches`` under real torchrun ranks: every batch is computed exactly once, by the rank
the round-robin deal gives it, even when one rank is slow to start and another has already
written its first batch (the ranks must not each list the folder for themselves)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.scale.conftest import run

pytestmark = [pytest.mark.slow, pytest.mark.cost(12)]  # one real torchrun launch

N_BATCHES = 6

SCRIPT = r'''
import json, sys, time
from pathlib import Path
import torch
from snnsec.utils import distributed as dist
from snnsec.utils.shards import BatchFolder, run_batches

out = Path(sys.argv[1])
with dist.session(torch.device("cpu")):
    me, slow = dist.rank(), {"first": True}

    def index_of(b):
        # rank 1 is held up after the folder is open and before the batches are dealt, long
        # enough for rank 0 to finish and save batch 0
        if me == 1 and slow["first"]:
            slow["first"] = False
            time.sleep(3)
        return torch.arange(2 * b, 2 * b + 2)

    def compute(batches):
        with open(out / f"log-{me}.txt", "a") as f:
            f.writelines(f"{b}\n" for b in batches)
        return [{"x": torch.full((2,), float(b))} for b in batches]

    folder = BatchFolder(out / "run.partial", {"test": 1})
    result = run_batches(N, index_of, compute, folder=folder)
    if dist.is_main():
        (out / "result.json").write_text(json.dumps([r["x"].tolist() for r in result.results]))
'''


def test_every_batch_is_computed_once_by_its_rank(tmp_path: Path) -> None:
    script = tmp_path / "shards_script.py"
    script.write_text(SCRIPT.replace("run_batches(N,", f"run_batches({N_BATCHES},"))
    r = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script),
             str(tmp_path)], cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    computed = {rank: [int(line) for line in (tmp_path / f"log-{rank}.txt").read_text().split()] for rank in (0, 1)}
    assert computed == {0: [0, 2, 4], 1: [1, 3, 5]}
    assert json.loads((tmp_path / "result.json").read_text()) == [[float(b)] * 2 for b in range(N_BATCHES)]
