"""Time and peak memory of one input-gradient step: STBP vs RGA vs a no-grad T-step forward.

VGG-11 (paper architecture, 10 classes) on a batch of 16 random 3x32x32 images, T in {4, 8, 16, 32},
all in ONE process, methods interleaved round-robin so that machine load hits them alike.

Measured, per T:

- ``forward``: ``model(x)`` under ``torch.no_grad()`` with all T steps at once (what evaluation does);
- ``forward/c``: the same no-grad forward run in time chunks of ``c`` steps (the chunking RGA's
  recording forward uses), so memory is flat in T;
- ``rga``: one RGA input gradient (chunked no-grad T-step forward + one rate-domain backward);
- ``rga-naive``: the same gradient computed per step with BPTT, as the paper's reference code does;
- ``stbp``: one STBP input gradient (BPTT through the surrogate, all T steps kept);
- every other registered estimator (``hart``, ``bptr``, ``pdsg``, ``assg``, ``act``, ``random``,
  ...): one input gradient with its defaults (``--gradients`` picks a subset).

Every gradient step differentiates the input only (parameters frozen), as an attack does.

**Time** is the median of a few warm repeats (fewer for large T). By default the script runs
single-threaded and times CPU seconds of the process (``time.process_time``): on an idle machine
that equals wall time, and on a shared machine (where this was developed, other jobs kept the
load at 5 on 2 cores) it does not count the time other processes hold the cores, nor the
spin-waits of threads that were preempted. ``--threads 2 --clock wall`` times wall-clock instead.

**Peak memory** is the growth of the process's resident set during the step, read from the
kernel: ``VmHWM`` (peak RSS) of ``/proc/self/status`` after writing ``5`` to
``/proc/self/clear_refs`` (which resets the peak to the current RSS), minus ``VmRSS`` just before
the step. For that to see every tensor being freed, the script re-executes itself with
``MALLOC_MMAP_THRESHOLD_=65536``: glibc then serves every allocation of 64 KiB or more with its
own ``mmap`` and returns it to the OS on free, so RSS follows live tensor memory instead of
staying at the allocator's high-water mark. Each step is measured once warm (oneDNN's primitive
caches and weight layouts already exist) right after a ``gc.collect()``. Linux only.

**On a GPU** (``--device cuda``) the clock is wall time around ``torch.cuda.synchronize()``, and
peak memory is the growth of ``torch.cuda.max_memory_allocated()`` during the step (the caching
allocator's live tensors, reset before each step), so the ratios compare the same things.

Run: ``python benchmarks/attack_step.py [--json] [--T 4 8 16 32] [--chunk 2] [--device cuda --batch 128]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

MMAP_ENV = "MALLOC_MMAP_THRESHOLD_"


def _reexec_with_mmap_threshold() -> None:
    if os.environ.get(MMAP_ENV) != "65536":
        env = dict(os.environ, **{MMAP_ENV: "65536"})
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_mib(step: Callable[[], Any]) -> float:
    """Peak resident-set growth (MiB) while ``step`` runs."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before = _status_kib("VmRSS")
    step()
    return max(0, _status_kib("VmHWM") - before) / 1024


def cuda_peak_mib(step: Callable[[], Any]) -> float:
    """Peak growth (MiB) of the CUDA caching allocator's live tensors while ``step`` runs."""
    import torch

    gc.collect()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    step()
    return max(0, torch.cuda.max_memory_allocated() - before) / 2**20


class _Timed:
    def __init__(self, fn: Callable[[], None], clock: Callable[[], float], sync: bool = False) -> None:
        self.fn, self.clock, self.sync, self.seconds = fn, clock, sync, 0.0

    def __call__(self) -> None:
        import torch

        if self.sync:
            torch.cuda.synchronize()
        start = self.clock()
        self.fn()
        if self.sync:
            torch.cuda.synchronize()
        self.seconds = self.clock() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--T", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--chunk", type=int, default=None, help="RGA time chunk (default: RGA's own default)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu", help="process CPU time or wall time")
    parser.add_argument("--no-stbp", action="store_true", help="RGA only: skip every other estimator (quick run)")
    parser.add_argument("--gradients", nargs="+", default=None, help="estimators to time besides rga (default: all registered)")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda: wall time and CUDA allocator peaks")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    _reexec_with_mmap_threshold()

    import torch

    from snnsec.attacks.gradients import GRADIENTS, RGA, build_estimator
    from snnsec.attacks.losses import cross_entropy
    from snnsec.models import build_model

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    on_gpu = device.type == "cuda"
    clock = time.process_time if args.clock == "cpu" and not on_gpu else time.perf_counter
    torch.manual_seed(0)
    model = build_model("vgg11", num_classes=10, T=4).eval().to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.rand(args.batch, 3, 32, 32).to(device)
    y = torch.randint(0, 10, (args.batch,)).to(device)
    measure = cuda_peak_mib if on_gpu else peak_mib
    rga = RGA() if args.chunk is None else RGA(time_chunk=args.chunk)
    chunk = rga.time_chunk

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def forward_chunked() -> None:
        with torch.no_grad(), model.chunked(chunk):
            model(x)

    def gradient(est: Any) -> Callable[[], None]:
        def step() -> None:
            with est.applied(model):
                est.gradient(model, x, y, cross_entropy)

        return step

    methods: dict[str, Callable[[], None]] = {"forward": forward, f"forward/{chunk}": forward_chunked, "rga": gradient(rga)}
    if not args.no_stbp:
        for name in args.gradients or sorted(GRADIENTS):
            if name != "rga":
                methods[name] = gradient(build_estimator(name))
    rows = []
    for T in args.T:
        repeats = 3 if T <= 8 else 1
        times: dict[str, list[float]] = {k: [] for k in methods}
        peaks: dict[str, list[float]] = {k: [] for k in methods}
        with model.timesteps(T):
            for fn in methods.values():  # warm-up: primitive caches, weight layouts
                fn()
            for _ in range(repeats):
                for name, fn in methods.items():
                    timed = _Timed(fn, clock, sync=on_gpu)
                    peaks[name].append(measure(timed))
                    times[name].append(timed.seconds)
        mem = {name: max(values) for name, values in peaks.items()}
        row: dict[str, Any] = {"T": T, "repeats": repeats}
        for name in methods:
            row[name] = {"seconds": statistics.median(times[name]), "peak_mib": mem[name]}
        base = row["forward"]
        for name in methods:
            row[name]["time_ratio"] = row[name]["seconds"] / base["seconds"]
            row[name]["mem_ratio"] = row[name]["peak_mib"] / base["peak_mib"] if base["peak_mib"] else None
        row["rga_vs_chunked_forward"] = {
            "time_ratio": row["rga"]["seconds"] / row[f"forward/{chunk}"]["seconds"],
            "mem_ratio": row["rga"]["peak_mib"] / row[f"forward/{chunk}"]["peak_mib"] if row[f"forward/{chunk}"]["peak_mib"] else None,
        }
        rows.append(row)
        print(f"T={T} done", file=sys.stderr, flush=True)

    result = {
        "model": "vgg11", "batch": args.batch, "input": [3, 32, 32], "rga_time_chunk": chunk,
        "threads": torch.get_num_threads(), "clock": "wall" if on_gpu else args.clock, "torch": torch.__version__,
        "device": torch.cuda.get_device_name(device) if on_gpu else "cpu",
        "memory": "peak growth of torch.cuda.max_memory_allocated" if on_gpu
        else "peak RSS growth (VmHWM - VmRSS), MALLOC_MMAP_THRESHOLD_=65536",
        "rows": rows,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    names = list(methods)
    where = result["device"] if on_gpu else f"{torch.get_num_threads()} thread(s), {args.clock} time"
    print(f"VGG-11, batch {args.batch}, 3x32x32, {where}; "
          "ratios are against the plain no-grad forward")
    print(f"{'T':>3} | " + " | ".join(f"{n:>22}" for n in names))
    for row in rows:
        cells = [f"{row[n]['seconds']:6.3f}s {row[n]['time_ratio']:4.2f}x {row[n]['peak_mib']:5.0f}M {row[n]['mem_ratio'] or 0:4.2f}x" for n in names]
        print(f"{row['T']:>3} | " + " | ".join(cells))
    print(f"RGA against the chunked forward (chunk {chunk}): " + ", ".join(
        f"T={r['T']}: time {r['rga_vs_chunked_forward']['time_ratio']:.2f}x, memory {r['rga_vs_chunked_forward']['mem_ratio'] or 0:.2f}x" for r in rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
