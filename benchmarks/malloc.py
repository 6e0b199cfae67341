"""glibc's default malloc vs :func:`snnsec.utils.malloc.tune_malloc`, side by side in one run.

Each workload runs in a fresh interpreter (mallopt is process-wide), alternately in two allocator
modes (``--modes``, default ``default tuned``), ``--rounds`` times, on one torch thread. The modes:
``default`` (``SNNSEC_MALLOC=default``: glibc as it ships), ``tuned`` (what the CLI sets) and
``heap`` (tuned plus glibc's ``MALLOC_MMAP_MAX_=0``: blocks above the 32 MiB threshold ceiling
come from the heap too, a trade snnsec leaves to the user). The workloads:

- ``train``: one STBP training step (forward, backward, Adam) of vggdvs at width 0.0625 on a
  batch of 64 DVS frames, T = 10 (the DVS-MNIST-5k acceptance model);
- ``train-vgg5``: the same for the demo's vgg5 (T = 4, 1x28x28, batch 64);
- ``train-dvs``: the same for vggdvs at width 0.25, the ``dvs-mnist5k`` study preset's model (its
  first layers' outputs, 47 MB, are above the threshold ceiling);
- ``rga``: one RGA input gradient of a full-width vgg11 at T = 4 on 16 3x32x32 images;
- ``stbp``: one STBP input gradient of the same model and batch.

Each child times ``--steps`` steps after two warm-up steps and reports wall seconds per step,
user and system CPU seconds per step, minor page faults per step and the process's peak resident
memory. The table gives the median over rounds of each and the ratio first mode / second mode. The arithmetic does not depend on the
allocator; the script checks that both runs computed the same loss.

Run: ``python benchmarks/malloc.py [--json] [--rounds 3] [--steps 4] [--only train rga] [--modes tuned heap]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ("train", "train-vgg5", "train-dvs", "rga", "stbp")
MODES = {"default": {"SNNSEC_MALLOC": "default"}, "tuned": {}, "heap": {"MALLOC_MMAP_MAX_": "0"}}


def child(workload: str, steps: int) -> dict[str, Any]:
    import torch

    from snnsec.utils.malloc import tune_malloc

    tuned = tune_malloc()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    from snnsec.models import build_model

    if workload.startswith("train"):
        if workload in ("train", "train-dvs"):
            model = build_model("vggdvs", num_classes=10, input_shape=(10, 2, 34, 34), T=10,
                                width=0.0625 if workload == "train" else 0.25, encoder="frames")
            x = (torch.rand(64, 10, 2, 34, 34) < 0.1).float()
        else:
            model = build_model("vgg5", num_classes=10, input_shape=(1, 28, 28), T=4)
            x = torch.rand(64, 1, 28, 28)
        y = torch.randint(0, 10, (64,))
        model.train()
        opt = torch.optim.Adam(model.parameters(), 1e-3)

        def step() -> float:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return float(loss)
    else:
        from snnsec.attacks.gradients import build_estimator
        from snnsec.attacks.losses import cross_entropy

        model = build_model("vgg11", num_classes=10, T=4).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        x, y = torch.rand(16, 3, 32, 32), torch.randint(0, 10, (16,))
        est = build_estimator(workload)

        def step() -> float:
            with est.applied(model):
                return float(est.gradient(model, x, y, cross_entropy).abs().sum())

    for _ in range(2):
        step()
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    value = 0.0
    for _ in range(steps):
        value = step()
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return {"tuned": tuned, "wall": wall / steps, "user": (r1.ru_utime - r0.ru_utime) / steps,
            "sys": (r1.ru_stime - r0.ru_stime) / steps, "faults": (r1.ru_minflt - r0.ru_minflt) / steps,
            "peak_mb": r1.ru_maxrss / 1024, "value": value}


def run_child(workload: str, steps: int, mode: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "SNNSEC_MALLOC"))}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    env.update(MODES[mode])
    out = subprocess.run([sys.executable, __file__, "--child", workload, "--steps", str(steps)], env=env,
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["tuned"] != (mode != "default"):
        raise RuntimeError(f"{workload}: the {mode} child reported tuned={result['tuned']}")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="default/tuned pairs per workload (alternated)")
    p.add_argument("--steps", type=int, default=4, help="timed steps per child, after 2 warm-up steps")
    p.add_argument("--only", nargs="+", choices=WORKLOADS, default=list(WORKLOADS), help="workloads to run")
    p.add_argument("--modes", nargs=2, choices=sorted(MODES), default=["default", "tuned"],
                   help="the two allocator modes to compare")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--child", choices=WORKLOADS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.steps)))
        return 0
    if args.rounds < 1 or args.steps < 1:
        p.error("--rounds and --steps must be at least 1")
    a, b = args.modes
    if a == b:
        p.error("--modes needs two different modes")
    rows = []
    for workload in args.only:
        runs: dict[str, list[dict[str, Any]]] = {a: [], b: []}
        for r in range(args.rounds):
            for mode in ((a, b) if r % 2 == 0 else (b, a)):
                runs[mode].append(run_child(workload, args.steps, mode))
        med = {mode: {k: statistics.median(run[k] for run in rs) for k in ("wall", "user", "sys", "faults", "peak_mb")}
               for mode, rs in runs.items()}
        same = len({run["value"] for rs in runs.values() for run in rs}) == 1
        rows.append({"workload": workload, a: med[a], b: med[b], "wall_ratio": med[a]["wall"] / med[b]["wall"],
                     "same_result": same})
    if args.json:
        print(json.dumps({"rounds": args.rounds, "steps": args.steps, "modes": [a, b], "rows": rows}))
        return 0
    print(f"{args.rounds} alternated rounds, {args.steps} steps each, 1 thread; medians per step "
          f"(peak: the process's resident memory)")
    print(f"{'workload':<12}{a + ' s':>10}{b + ' s':>10}{'ratio':>7}{'sys ' + a:>13}{'sys ' + b:>11}"
          f"{'faults ' + a:>16}{'faults ' + b:>14}{'peak MB ' + a:>17}{'peak MB ' + b:>15}  same result")
    for row in rows:
        d, t = row[a], row[b]
        print(f"{row['workload']:<12}{d['wall']:>10.3f}{t['wall']:>10.3f}{row['wall_ratio']:>6.2f}x{d['sys']:>13.3f}"
              f"{t['sys']:>11.3f}{d['faults']:>16.0f}{t['faults']:>14.0f}{d['peak_mb']:>17.0f}{t['peak_mb']:>15.0f}"
              f"  {row['same_result']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
