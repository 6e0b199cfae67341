"""`make test` now against `make test` at an older commit, on this machine, in one run.

Issue 8 asks for a test suite that is faster than before, measured on the same machine. This
script runs both suites one after the other (never at the same time: the new suite uses every
core through pytest-xdist) with the repository's one ``.venv``:

- **old**: the suite of ``--old-rev`` (default ``b4f1d44``, the last commit before the redesign),
  checked out into a temporary ``git worktree`` and run the way its Makefile ran it
  (``pytest -q``, one process), with ``PYTHONPATH`` pointing at that checkout so it tests its
  own ``snnsec``;
- **new**: this checkout's ``make -s test`` itself (pytest-xdist, ``--dist loadscope``, see the
  Makefile); ``--new-serial`` adds a row for the same suite in one process;
- **new, old modules** (``--same-modules``): ``make -s test`` restricted (``PYTEST_ARGS``) to the
  test modules that ``--old-rev`` already had, in their current form. Those modules have grown
  since (the demo test now runs all 1,000 digits, for example), so this row is the suite that
  existed before the later issues added modules of their own, not the same tests;
- **new, N workers** (``--workers N``, repeatable): ``make -s test PYTEST_WORKERS=N``, the same
  suite under another number of pytest-xdist workers (the Makefile's default is one per core), to
  see whether a worker more than the cores fills the time workers spend waiting on their children.

Bytecode: `make test` compiles the checkout's modules first (``compileall``, so that the ~100
Python processes the suite starts do not each compile them from source where
``PYTHONDONTWRITEBYTECODE`` is set or the clone is fresh). For a like-for-like comparison the old
checkout gets the same, untimed, before its run; ``--old-bytecode none`` leaves it without (as its
own Makefile ran it on such a machine).

Each row reports wall seconds, CPU seconds (also split into user and system time: on a VM where
first-touched memory is expensive, system time is a large share), tests passed/failed/skipped,
seconds per test and the ratios to the old suite's and to ``make test``'s wall time. ``--order new-first`` swaps the order (the second run finds warm disk
caches). Both suites train their own models from scratch; nothing is cached between them except
the operating system's file cache (each run gets an empty ``SNNSEC_CACHE_DIR``).

Each suite's whole output is kept in a log file (``--log-dir``; by default a new folder under the
temporary directory, named on stderr), so a failure in a timed run can be read afterwards.

A loaded machine (``--busy N``): issue 8 also named the suite's time on a busy machine. With
``--busy N``, N pure-Python spin loops (one core each, at the suites' own priority) run during
every timed suite, started just before it and stopped just after, so both suites share the cores
with the same load. They are stopped on errors, Ctrl-C and SIGTERM too. The CPU column counts the
suite's own processes only.

Run: ``python benchmarks/suite_time.py [--json] [--old-rev REV] [--new-serial] [--same-modules] [--workers N] [--only-new] [--busy N]``.
It takes as long as both suites (about 4 + 6 minutes on 2 idle cores).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _children import busy, sigterm_as_exit

REPO = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|error|errors|deselected)")


def _run(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run one suite; its whole output goes to ``log`` (kept: a failure's details are there)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # its own session, so that a stop (Ctrl-C, SIGTERM) takes the whole suite: make, pytest, its workers
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            raise
    wall = time.perf_counter() - start
    log.write_text(f"$ {' '.join(cmd)}\n{stdout}\n--- stderr ---\n{stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # every process of the suite, once reaped
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    tail = (stdout.strip().splitlines() or [""])[-1]
    counts = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
    for num, kind in SUMMARY.findall(tail):
        counts[{"errors": "error"}.get(kind, kind)] = int(num)
    failures = [line.split(" - ")[0] for line in stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    return {"command": " ".join(cmd), "wall_s": round(wall, 1), "cpu_s": round(user + system, 1),
            "user_s": round(user, 1), "sys_s": round(system, 1), "exit": proc.returncode, "summary": tail, **counts,
            "failures": failures, "log": str(log)}


def _old_modules(rev: str) -> list[str]:
    """The test modules ``rev`` had that this checkout still has, as paths."""
    listed = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "tests"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout.split()
    return [p for p in listed if Path(p).name.startswith("test_") and p.endswith(".py") and (REPO / p).is_file()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--old-rev", default="b4f1d44", help="commit whose suite is the baseline")
    p.add_argument("--order", choices=("old-first", "new-first"), default="old-first")
    p.add_argument("--new-serial", action="store_true", help="also run the new suite in one process")
    p.add_argument("--same-modules", action="store_true",
                   help="also run make test on just the test modules that --old-rev had (current versions)")
    p.add_argument("--workers", type=int, action="append", default=[], metavar="N",
                   help="also run make test with N pytest-xdist workers (repeatable); the default is one per core")
    p.add_argument("--only-new", action="store_true", help="skip the old suite")
    p.add_argument("--old-bytecode", choices=("compiled", "none"), default="compiled",
                   help="compiled: compileall the old checkout before its run, untimed, as make test does for the new one")
    p.add_argument("--log-dir", type=Path, default=None,
                   help="where each suite's whole output is written (default: a new folder under the temp dir, kept)")
    p.add_argument("--busy", type=int, default=0, metavar="N",
                   help="N single-core spin loops run during every timed suite (a loaded machine); default 0")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if any(n < 1 for n in args.workers):
        p.error(f"--workers must be a positive number of workers, got {min(args.workers)}")
    if not 0 <= args.busy <= (os.cpu_count() or 1):
        p.error(f"--busy must be between 0 and the {os.cpu_count()} cores, got {args.busy}")
    sigterm_as_exit()
    logs = args.log_dir or Path(tempfile.mkdtemp(prefix="snnsec-suite-time-"))
    logs.mkdir(parents=True, exist_ok=True)

    py = sys.executable
    env = dict(os.environ, SNNSEC_PROGRESS="0")
    env.pop("PYTHONPATH", None)
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="snnsec-old-suite-") as tmp:
        old_dir = Path(tmp) / "old"
        if not args.only_new:
            subprocess.run(["git", "worktree", "add", "--detach", str(old_dir), args.old_rev], cwd=REPO,
                           check=True, capture_output=True)
            if args.old_bytecode == "compiled":
                subprocess.run([py, "-m", "compileall", "-q", "snnsec", "tests"], cwd=old_dir, capture_output=True)
        try:
            plan = [("new, make test", ["make", "-s", "test"], REPO, env)]
            for n in args.workers:
                plan.append((f"new, {n} workers", ["make", "-s", "test", f"PYTEST_WORKERS={n}"], REPO, env))
            if args.new_serial:
                plan.append(("new, one process", [py, "-m", "pytest", "-q"], REPO, env))
            if args.same_modules:
                modules = _old_modules(args.old_rev)
                plan.append((f"new, old modules ({len(modules)})", ["make", "-s", "test", f"PYTEST_ARGS={' '.join(modules)}"],
                             REPO, env))
            if not args.only_new:
                old = (f"old ({args.old_rev})", [py, "-m", "pytest", "-q"], old_dir, dict(env, PYTHONPATH=str(old_dir)))
                plan = [old, *plan] if args.order == "old-first" else [*plan, old]
            for k, (name, cmd, cwd, e) in enumerate(plan):
                e = dict(e, SNNSEC_CACHE_DIR=str(Path(tmp) / f"cache-{k}"))  # no model cached from before
                print(f"running the {name} suite ...", file=sys.stderr, flush=True)
                log = logs / (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + ".log")
                with busy(args.busy):
                    rows[name] = _run(cmd, cwd, e, log)
                print(f"  {rows[name]['summary']} ({rows[name]['wall_s']} s wall; output in {log})", file=sys.stderr,
                      flush=True)
        finally:
            if not args.only_new:
                subprocess.run(["git", "worktree", "remove", "--force", str(old_dir)], cwd=REPO, capture_output=True)
    base = next((r["wall_s"] for k, r in rows.items() if k.startswith("old")), None)
    for r in rows.values():
        tests = r["passed"] + r["failed"]
        r["s_per_test"] = round(r["wall_s"] / tests, 3) if tests else None
        r["vs_old"] = round(r["wall_s"] / base, 3) if base else None
        r["vs_make_test"] = round(r["wall_s"] / rows["new, make test"]["wall_s"], 3)
    result = {"machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}, "busy": args.busy,
              "old_bytecode": None if args.only_new else args.old_bytecode, "rows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"test suites on {os.cpu_count()} cores, one after the other"
          + ("" if args.only_new else f"; old checkout's bytecode: {args.old_bytecode}")
          + (f"; {args.busy} spin loop(s) running during each" if args.busy else ""))
    print(f"{'suite':<26} {'wall s':>8} {'CPU s':>7} {'user':>6} {'sys':>6} {'passed':>7} {'failed':>7} {'skipped':>8} {'s/test':>7} {'/ old':>6} {'/ make test':>11}")
    for name, r in rows.items():
        print(f"{name:<26} {r['wall_s']:>8.1f} {r['cpu_s']:>7.1f} {r['user_s']:>6.1f} {r['sys_s']:>6.1f} "
              f"{r['passed']:>7} {r['failed']:>7} {r['skipped']:>8} "
              f"{r['s_per_test'] or float('nan'):>7.3f} {r['vs_old'] or float('nan'):>6.2f} {r['vs_make_test']:>11.2f}")
        for line in r["failures"]:
            print(f"    {line}")
        if r["failures"]:
            print(f"    (details: {r['log']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
