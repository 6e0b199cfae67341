"""`snnsec demo` now against the demo of an older commit, alternately, in one run.

Issue 9 asks that the demo, which now replays on the emulator for all 1,000 test digits and
cross-checks the first 100 on lava-sim, be no slower than the demo before it (100 digits, all on
lava-sim). This script checks the old commit out into a temporary ``git worktree`` and runs both
demos with the repository's one ``.venv``, alternating old/new and new/old over ``--rounds``
rounds so that machine load hits both alike. Each run gets a fresh ``--out-dir``, so every attack
is crafted and Lava runs every time, as on a fresh clone. The demo model is shared (both commits
compute the same cache path) unless ``--empty-cache``, where every run trains it in a new cache.

Each row: wall seconds of the whole command, seconds in lava-sim, digits on the emulator / on
Lava, load average before and after. The summary gives the median wall time of each side and the
ratio new / old.

Run: ``python benchmarks/demo.py [--json] [--old-rev ace36d3] [--rounds 2] [--empty-cache]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

# Runs the CLI of the snnsec tree given as argv[1] (not the editable install of this checkout).
RUN_TREE = """
import sys
tree = sys.argv[1]
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, tree)
for name in [m for m in sys.modules if m == "snnsec" or m.startswith("snnsec.")]:
    del sys.modules[name]
import snnsec
assert snnsec.__file__.startswith(tree), snnsec.__file__
from snnsec.cli.main import main
raise SystemExit(main(sys.argv[2:]))
"""


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _run(which: str, old_tree: Path, work: Path, k: int, empty_cache: bool) -> dict[str, Any]:
    out = work / f"{which}-{k}"
    cmd = ([sys.executable, "-c", RUN_TREE, str(old_tree)] if which == "old" else [sys.executable, "-m", "snnsec"])
    cmd += ["demo", "--out-dir", str(out), "--json", "--quiet"]
    env = dict(os.environ, SNNSEC_PROGRESS="0")
    if empty_cache:
        env["SNNSEC_CACHE_DIR"] = str(work / f"cache-{which}-{k}")
    before, start = _load(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"the {which} demo failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}")
    rep = json.loads(proc.stdout)
    lava = rep["lava"] if which == "new" else rep
    return {"demo": which, "round": k, "wall_s": round(wall, 1), "lava_s": lava["backend_info"]["seconds"],
            "digits_emulator": rep["n"] if which == "new" else 0, "digits_lava": lava["n"],
            "trained_now": rep.get("trained_now"), "load_before": before, "load_after": _load()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--old-rev", default="ace36d3", help="commit whose demo is the baseline (the 100-digit lava-sim demo)")
    p.add_argument("--rounds", type=int, default=2, help="rounds of old+new, alternating which goes first")
    p.add_argument("--empty-cache", action="store_true", help="every run trains the demo model in a new cache")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="snnsec-demo-bench-") as tmp:
        work = Path(tmp)
        old_tree = work / "old"
        subprocess.run(["git", "worktree", "add", "--detach", str(old_tree), args.old_rev], cwd=REPO,
                       check=True, capture_output=True)
        try:
            for k in range(args.rounds):
                for which in (("old", "new") if k % 2 == 0 else ("new", "old")):
                    rows.append(_run(which, old_tree, work, k, args.empty_cache))
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old_tree)], cwd=REPO, capture_output=True)
    med = {w: statistics.median(r["wall_s"] for r in rows if r["demo"] == w) for w in ("old", "new")}
    result = {"old_rev": args.old_rev, "rows": rows, "median_wall_s": med, "new_over_old": round(med["new"] / med["old"], 3)}
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"{'demo':5} {'round':>5} {'wall s':>7} {'lava s':>7} {'digits emu/lava':>16} {'load':>12}")
    for r in rows:
        print(f"{r['demo']:5} {r['round']:>5} {r['wall_s']:>7} {r['lava_s']:>7} "
              f"{str(r['digits_emulator']) + '/' + str(r['digits_lava']):>16} {r['load_before']:>5}-{r['load_after']}")
    print(f"median wall: old {med['old']:.1f} s, new {med['new']:.1f} s; new / old = {result['new_over_old']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
