"""An attack on every core of an idle and of a busy machine, with OpenMP's default waiting and
with ``OMP_WAIT_POLICY=PASSIVE``, side by side.

torch's CPU kernels run on an OpenMP thread pool (libgomp), one thread per core by default.
Between parallel regions libgomp's threads spin before they sleep. On idle cores that spinning
saves a wake-up per region; when another process holds one of the cores, a spinning thread takes
turns with it, and the region waits for the thread that is not running. ``OMP_WAIT_POLICY=PASSIVE``
makes the threads sleep at once. It is read when torch loads, so it must be in the environment of
the process (``OMP_WAIT_POLICY=PASSIVE snnsec craft ...``).

The command is ``snnsec craft --attack rga-pgd`` (5 PGD steps) on ``--n`` MNIST-5k digits with an
untrained vgg5 of the demo's size (1x28x28, width 1, T = 4), written to a temporary folder, on
torch's default number of threads. It runs ``--rounds`` times each way (alternated) on the idle
machine, then again while ``--busy`` single-core spin loops run (at the command's priority; stopped
afterwards, also on errors, Ctrl-C and SIGTERM). The table gives median wall seconds and the
child's user + system CPU seconds (``wait4``), and default / passive as ratios. Both ways must
write the same bytes: the waiting policy changes no arithmetic.

Run: ``python benchmarks/busy_machine.py [--json] [--rounds 3] [--n 400] [--busy 1]``
(about two minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _children import busy, sigterm_as_exit, timed

ROOT = Path(__file__).resolve().parents[1]
WAYS = {"default": {}, "passive": {"OMP_WAIT_POLICY": "PASSIVE"}}


def make_model(folder: Path) -> Path:
    import torch

    from snnsec.models import build_model, save_model

    torch.manual_seed(0)
    model = build_model("vgg5", num_classes=10, input_shape=(1, 28, 28), T=4, width=1.0, dataset="mnist5k").eval()
    path = folder / "vgg5.pt"
    save_model(model, path)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="runs each way under each load (alternated)")
    p.add_argument("--n", type=int, default=400, help="digits attacked per run")
    p.add_argument("--busy", type=int, default=1, metavar="N", help="spin loops for the busy rows (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    cores = os.cpu_count() or 1
    if args.rounds < 1 or args.n < 1:
        p.error(f"--rounds and --n must be at least 1, got {args.rounds} and {args.n}")
    if not 1 <= args.busy <= cores:
        p.error(f"--busy must be between 1 and the {cores} cores, got {args.busy}")
    sigterm_as_exit()
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")}
    base.update(SNNSEC_PROGRESS="0",
                PYTHONPATH=os.pathsep.join(x for x in (str(ROOT), os.environ.get("PYTHONPATH", "")) if x))
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base["SNNSEC_CACHE_DIR"] = os.environ.get("SNNSEC_CACHE_DIR", str(folder / "cache"))
        model, out = make_model(folder), folder / "adv.pt"
        cmd = [sys.executable, "-m", "snnsec", "craft", "--model", str(model), "--attack", "rga-pgd", "--n", str(args.n),
               "--device", "cpu", "--out", str(out), "--force", "--quiet"]
        timed(cmd, base, ROOT)  # warm the page cache and MNIST-5k's decoded table
        digests = set()
        for load in (0, args.busy):
            runs: dict[str, list[tuple[float, float]]] = {w: [] for w in WAYS}
            with busy(load):
                for r in range(args.rounds):
                    for way in (list(WAYS) if r % 2 == 0 else list(WAYS)[::-1]):
                        runs[way].append(timed(cmd, {**base, **WAYS[way]}, ROOT))
                        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
            row: dict[str, Any] = {"busy": load}
            for way, got in runs.items():
                row[f"{way}_wall"] = statistics.median(w for w, _ in got)
                row[f"{way}_cpu"] = statistics.median(c for _, c in got)
            row["wall_ratio"] = row["default_wall"] / row["passive_wall"]
            row["cpu_ratio"] = row["default_cpu"] / row["passive_cpu"]
            rows["idle" if load == 0 else f"{load} core(s) busy"] = row
    result = {"cores": cores, "rounds": args.rounds, "n": args.n, "same_output": len(digests) == 1, "rows": rows}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"snnsec craft --attack rga-pgd on {args.n} digits (vgg5, T = 4), {cores} cores, torch's default threads; "
          f"median of {args.rounds} alternated rounds")
    print(f"{'machine':<18}{'default s':>11}{'passive s':>11}{'wall ratio':>12}{'default CPU':>13}{'passive CPU':>13}"
          f"{'CPU ratio':>11}")
    for name, row in rows.items():
        print(f"{name:<18}{row['default_wall']:>11.2f}{row['passive_wall']:>11.2f}{row['wall_ratio']:>12.2f}"
              f"{row['default_cpu']:>13.2f}{row['passive_cpu']:>13.2f}{row['cpu_ratio']:>11.2f}")
    print(f"ratios are default / passive (above 1: passive is faster); same bytes every run: {result['same_output']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
