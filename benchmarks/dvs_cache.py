"""CIFAR10-DVS frames: reading 1,000 samples the first time (events via tonic) vs again (frame cache).

Writes its own recordings, so nothing is downloaded: ``--recordings`` (default 1,000) valid AEDAT4
files of random 128x128 events in the layout tonic's ``CIFAR10DVS`` reader accepts, with
``--events`` events each. Then, in one process and side by side:

- **first**: a fresh ``cifar10-dvs`` dataset reads every sample of both splits (1,000 samples):
  tonic decodes the AEDAT4 file, ``Downsample`` to 48x48, ``ToFrame`` into T = 10 bins, the counts
  are clipped and scaled to [0, 1], and each frame is written to an empty frame cache;
- **again**: another fresh dataset object (no in-process state) reads the same samples, now
  from the disk cache.

Each round uses a new cache folder; the rounds alternate first/again so that machine load hits
both alike; times are medians over rounds. The recordings were just written, so they sit in the
OS page cache: the first pass pays no disk reads, which favours it. The frames of the second pass
are checked equal to the first. Real CIFAR10-DVS recordings hold far more events than the default
here, so their first read, and the speed-up, are larger.

Run: ``python benchmarks/dvs_cache.py [--json] [--events 2000 20000] [--recordings 1000] [--rounds 3]``
(defaults shown; about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch


def read_all(data_dir: Path, cache: Path) -> tuple[float, list[torch.Tensor]]:
    """Seconds to read every sample of both splits with a fresh dataset object, and the frames."""
    from snnsec.data import get_dataset

    ds = get_dataset("cifar10-dvs", data_dir, cache_dir=cache)
    splits = [ds.split("train"), ds.split("test")]  # lists the files; reads no events yet
    start = time.perf_counter()
    frames = [split[i][0] for split in splits for i in range(len(split))]
    return time.perf_counter() - start, frames


def measure(events: int, recordings: int, rounds: int, workdir: Path) -> dict[str, Any]:
    from snnsec.data.aedat4_writer import write_synthetic_cifar10dvs

    data_dir = workdir / f"events-{events}"
    write_synthetic_cifar10dvs(data_dir, per_class=recordings // 10, n_events=events, seed=0)
    first, again = [], []
    for r in range(rounds):
        cache = workdir / f"cache-{events}-{r}"
        t_first, frames_first = read_all(data_dir, cache)
        t_again, frames_again = read_all(data_dir, cache)
        if not all(torch.equal(a, b) for a, b in zip(frames_first, frames_again)):
            raise RuntimeError("frames read from the cache differ from the frames read from the events")
        first.append(t_first)
        again.append(t_again)
        shutil.rmtree(cache)
    shutil.rmtree(data_dir)
    n = len(frames_first)
    t1, t2 = statistics.median(first), statistics.median(again)
    return {
        "events_per_recording": events,
        "samples": n,
        "sample_shape": list(frames_first[0].shape),
        "first_s": round(t1, 3),
        "cached_s": round(t2, 3),
        "first_ms_per_sample": round(1e3 * t1 / n, 3),
        "cached_ms_per_sample": round(1e3 * t2 / n, 3),
        "speedup": round(t1 / t2, 1),
        "rounds": rounds,
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'events/rec':>10} {'samples':>7} {'first (s)':>9} {'cached (s)':>10} "
            f"{'first ms':>8} {'cached ms':>9} {'speed-up':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['events_per_recording']:>10} {r['samples']:>7} {r['first_s']:>9.3f} {r['cached_s']:>10.3f} "
            f"{r['first_ms_per_sample']:>8.3f} {r['cached_ms_per_sample']:>9.3f} {r['speedup']:>7.1f}x"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[2000, 20000], help="events per recording (one row each)")
    parser.add_argument("--recordings", type=int, default=1000, help="recordings (>= 1000, or tonic would download)")
    parser.add_argument("--rounds", type=int, default=3, help="first/again rounds; medians are reported")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    if args.recordings < 1000 or args.recordings % 10:
        parser.error(f"--recordings must be a multiple of 10 and at least 1000 (tonic's download check), got {args.recordings}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="snnsec-dvs-cache-"))
    try:
        rows = [measure(e, args.recordings, args.rounds, workdir) for e in args.events]
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    result = {"benchmark": "dvs_cache", "frames": "T=10, 2x48x48 from 128x128", "rows": rows}
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        sys.stdout.write(table(rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
