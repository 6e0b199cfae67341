"""How a torchrun rank ends: no gloo worker thread may be left asking for the GIL while the
interpreter shuts down.

Python 3.11 ends such a thread inside C++: SIGABRT ("terminate called without an active
exception"), and torchrun stops every rank. That made a 2-rank `snnsec train` fail after its
training, about 1 run in 8 on a busy 2-core machine (docs/scale.md, "A rank's last collective").
Two guards, each tested here with real gloo ranks:
- snnsec's collectives return only once gloo's worker has let go of their tensor
  (snnsec.utils.distributed._collective), counted over many calls against torch's own;
- a rank that joined a group ends after its atexit handlers without the interpreter's shutdown
  (snnsec.utils.process.end_process); a plain process still shuts down as usual."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tests.scale.conftest import ROOT, env, run

pytestmark = [pytest.mark.slow, pytest.mark.cost(6)]

PROBE = """
import json, os, sys
from pathlib import Path
import torch
import torch.distributed as dist
from snnsec.utils import distributed

N = 400
with distributed.session(torch.device("cpu")):
    def held(call):  # how many of N calls returned while someone besides Python still held t
        count = 0
        for i in range(N):
            t = torch.tensor([float(i), 1.0])
            before = sys.getrefcount(t)
            call(t)
            count += sys.getrefcount(t) > before
        return count
    plain = held(dist.all_reduce)
    reduce = held(lambda t: distributed._collective(dist.all_reduce, t))
    broadcast = held(lambda t: distributed._collective(dist.broadcast, t, src=0))
    sums = distributed.all_sum([1.0, float(distributed.rank())])
    agree = distributed.all_agree(distributed.rank() == 0)
    main = distributed.from_main([7 + distributed.rank()])
# a file per rank: the ranks share torchrun's stdout, and with PYTHONUNBUFFERED set a line and its
# newline are two writes that the other rank's line can come between
Path(sys.argv[1], f"rank-{os.environ['RANK']}.json").write_text(json.dumps({
    "rank": int(os.environ["RANK"]), "plain": plain, "reduce": reduce, "broadcast": broadcast,
    "sums": sums, "agree": agree, "main": main}))
"""


def test_collectives_return_after_the_worker_released_the_tensor(tmp_path) -> None:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script),
           str(tmp_path)]
    r = run(cmd, cwd=ROOT, timeout=300, threads=1)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads((tmp_path / f"rank-{rank}.json").read_text()) for rank in (0, 1)]
    assert [row["rank"] for row in rows] == [0, 1], rows
    for row in rows:
        # torch's own call returned with the tensor still held some of the time (row["plain"] of
        # 400; 5 to 36 % on the 2-core machine): snnsec's never did
        assert row["reduce"] == 0 and row["broadcast"] == 0, row
        assert row["sums"] == [2.0, 1.0] and row["agree"] is False and row["main"] == [7], row


EXIT_PROBE = """
import atexit, os, sys, types
from pathlib import Path

import torch

from snnsec.utils import distributed
from snnsec.utils.process import run_process

out = Path(sys.argv[1])
tag = os.environ.get("RANK", "plain")


class Teardown:  # its __del__ runs when the interpreter's shutdown empties sys.modules
    def __init__(self, path):  # everything __del__ needs is bound now: modules may be gone by then
        self.fd, self.write = os.open(path, os.O_WRONLY | os.O_CREAT), os.write

    def __del__(self):
        self.write(self.fd, b"ran")


marker = types.ModuleType("snnsec_exit_probe_marker")  # held by sys.modules alone, in no cycle
marker.teardown = Teardown(out / f"teardown-{tag}")
sys.modules[marker.__name__] = marker
del marker


def main():
    atexit.register(lambda: (out / f"atexit-{tag}").write_text("ran"))
    if "RANK" in os.environ:
        with distributed.session(torch.device("cpu")):
            total = distributed.all_sum([1.0])[0]
    else:
        total = 0.0
    print(f"{tag} {total}", end="")  # no newline: still in stdout's buffer when the process ends
    return 0


sys.exit(run_process(main))
"""


def test_a_rank_ends_after_its_atexit_handlers_without_the_interpreters_shutdown(tmp_path) -> None:
    script = tmp_path / "exit_probe.py"
    script.write_text(EXIT_PROBE)
    # Two ranks started as srun or mpirun would (torchrun's environment variables, set here), not by
    # torchrun: torchrun starts its ranks with `python -u`, whose stdout has no buffer, so the flush
    # this test pins would go untested. PYTHONUNBUFFERED (set on some machines and CI images) is
    # dropped for the same reason.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    e = env(threads=1, drop=("PYTHONUNBUFFERED",))
    ranks = []
    try:
        for rank in (0, 1):  # output to files: a rank blocked on a full pipe would stall the other one
            with open(tmp_path / f"out-{rank}", "w") as out, open(tmp_path / f"err-{rank}", "w") as err:
                ranks.append(subprocess.Popen(
                    [sys.executable, str(script), str(tmp_path)], cwd=ROOT, stdout=out, stderr=err,
                    env={**e, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2",
                         "RANK": str(rank), "LOCAL_RANK": str(rank), "LOCAL_WORLD_SIZE": "2"}))
        codes = [p.wait(timeout=300) for p in ranks]
    finally:
        for p in ranks:
            p.kill()
    for rank, code in zip("01", codes):
        assert code == 0, (tmp_path / f"err-{rank}").read_text()[-3000:]
        out = (tmp_path / f"out-{rank}").read_text()
        assert out == f"{rank} 2.0", out  # still in stdout's buffer at the end: flushed before the exit
        assert (tmp_path / f"atexit-{rank}").is_file()  # atexit handlers ran
        assert (tmp_path / f"teardown-{rank}").read_text() == ""  # the interpreter's shutdown did not
    plain = run([sys.executable, str(script), str(tmp_path)], cwd=ROOT, timeout=120, threads=1,
                env_drop=("PYTHONUNBUFFERED",))
    assert plain.returncode == 0 and plain.stdout == "plain 0.0", plain
    # a process that joined no group shuts down as before
    assert (tmp_path / "atexit-plain").is_file() and (tmp_path / "teardown-plain").read_text() == "ran"
