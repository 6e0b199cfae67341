"""Lava runtimes started from a process that keeps a freed heap, with and without
:func:`snnsec.utils.malloc.release_free_memory` before the fork, side by side in one run.

Each child is a fresh interpreter with :func:`snnsec.utils.malloc.tune_malloc` in effect (as
every ``snnsec`` command has). It builds a small untrained vgg5 (1x28x28, width 1/4, T = 2),
allocates ``--heap-mib`` MiB in 1 MiB tensors and frees all but every sixteenth (what crafting or
a torch reference run leaves behind: free space in holes between live blocks, which glibc cannot
trim from the top of the heap and tune_malloc keeps for reuse anyway), then streams ``--samples`` samples through
lava-sim in fixed point ``--runs`` times, one runtime each (Lava forks about 25 workers per
runtime). ``kept`` children skip the release; ``released`` children run snnsec's runner as it is.
Rounds alternate the two. The table gives medians: wall seconds and CPU seconds per runtime, in
the parent and in the workers (user + system), and the parent's resident memory at the fork.
Both modes must predict the same labels.

Run: ``python benchmarks/lava_fork.py [--json] [--rounds 3] [--runs 3] [--heap-mib 800]``.
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
MODES = ("kept", "released")


def _rss_mib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 2**20


def child(mode: str, runs: int, samples: int, heap_mib: int) -> dict[str, Any]:
    import torch

    from snnsec.backends.lava import runner
    from snnsec.backends.replay import backend_predict
    from snnsec.models import build_model
    from snnsec.neurons import NeuronParameters
    from snnsec.utils.malloc import tune_malloc

    tuned = tune_malloc()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model("vgg5", num_classes=10, input_shape=(1, 28, 28), T=2, width=0.25,
                        neuron=NeuronParameters(1.0, 0.3, "hard", "triangle", 1.0)).eval()
    x = torch.rand(samples, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    backend_predict(model, x[:1], "lava-sim", seed=0, precision="fixed", show_progress=False)  # imports, compile caches
    if mode == "kept":
        runner.release_free_memory = lambda: False  # what the runner did before the release
    blocks = [torch.ones(2**18) for _ in range(heap_mib)]
    live = blocks[::16]  # a sixteenth stays alive, spread over the heap: the free space is in holes
    del blocks
    r0, c0, t0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    labels = None
    for _ in range(runs):
        labels = backend_predict(model, x, "lava-sim", seed=0, precision="fixed", show_progress=False).labels
    wall = time.perf_counter() - t0
    r1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    rss = _rss_mib()  # released: what the runner's release left; kept: the heap the workers inherited
    del live
    return {"tuned": tuned, "rss_mib": rss, "wall": wall / runs,
            "parent_cpu": (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) / runs,
            "parent_sys": (r1.ru_stime - r0.ru_stime) / runs,
            "workers_cpu": (c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime) / runs,
            "workers_sys": (c1.ru_stime - c0.ru_stime) / runs,
            "labels": [int(v) for v in labels]}


def run_child(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "SNNSEC_MALLOC"))}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), SNNSEC_PROGRESS="0")
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--runs", str(args.runs), "--samples",
                          str(args.samples), "--heap-mib", str(args.heap_mib)], env=env, capture_output=True,
                         text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["tuned"]:
        raise RuntimeError("tune_malloc did not take effect in the child (not glibc?)")
    return result


KEYS = ("wall", "parent_cpu", "parent_sys", "workers_cpu", "workers_sys", "rss_mib")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="kept/released pairs (alternated)")
    p.add_argument("--runs", type=int, default=3, help="Lava runtimes per child, each timed")
    p.add_argument("--samples", type=int, default=8, help="samples streamed through each runtime")
    p.add_argument("--heap-mib", type=int, default=800, help="MiB allocated before the runs (15/16 of it freed)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.runs, args.samples, args.heap_mib)))
        return 0
    if min(args.rounds, args.runs, args.samples) < 1 or args.heap_mib < 0:
        p.error("--rounds, --runs and --samples must be at least 1, --heap-mib at least 0")
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    for r in range(args.rounds):
        for mode in (MODES if r % 2 == 0 else MODES[::-1]):
            runs[mode].append(run_child(mode, args))
    med = {m: {k: statistics.median(run[k] for run in rs) for k in KEYS} for m, rs in runs.items()}
    same = len({tuple(run["labels"]) for rs in runs.values() for run in rs}) == 1
    cpu = {m: med[m]["parent_cpu"] + med[m]["workers_cpu"] for m in MODES}
    result = {"rounds": args.rounds, "runs": args.runs, "samples": args.samples, "heap_mib": args.heap_mib,
              "kept": med["kept"], "released": med["released"], "cpu_ratio": cpu["kept"] / cpu["released"],
              "wall_ratio": med["kept"]["wall"] / med["released"]["wall"], "same_labels": same}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.rounds} alternated rounds x {args.runs} lava-sim runtimes, {args.samples} samples each, "
          f"{args.heap_mib} MiB allocated and 15/16 freed before; medians per runtime")
    print(f"{'':<10}{'RSS MiB':>9}{'wall s':>8}{'parent CPU':>12}{'(sys)':>7}{'workers CPU':>13}{'(sys)':>7}{'all CPU':>9}")
    for m in MODES:
        d = med[m]
        print(f"{m:<10}{d['rss_mib']:>9.0f}{d['wall']:>8.2f}{d['parent_cpu']:>12.2f}{d['parent_sys']:>7.2f}"
              f"{d['workers_cpu']:>13.2f}{d['workers_sys']:>7.2f}{cpu[m]:>9.2f}")
    print(f"kept / released: CPU {result['cpu_ratio']:.2f}x, wall {result['wall_ratio']:.2f}x; same labels: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
