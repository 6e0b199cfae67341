"""What the benchmarks that time whole processes share: a child's own wall and CPU time, and a
loaded machine made of spin loops. Every child is stopped when the benchmark stops (an error,
Ctrl-C, or SIGTERM once :func:`sigterm_as_exit` is installed)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and user + system CPU seconds of one child process (``wait4``: its own rusage,
    nothing else's). A failed command raises with the end of its stderr."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:  # Ctrl-C, SIGTERM: the command goes too
        proc.kill()
        proc.wait()
        raise
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd[-10:])} failed with exit {code}: {err[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def busy(n: int) -> Iterator[None]:
    """``n`` spin loops, one process each, for the duration of the block; always stopped after it."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
                for _ in range(n)]
    try:
        yield
    finally:
        for proc in spinners:
            proc.kill()
        for proc in spinners:
            proc.wait()


def _exit_on(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: children and spinners go


def sigterm_as_exit() -> None:
    """SIGTERM unwinds the benchmark like Ctrl-C, so :func:`busy` and :func:`timed` stop their children."""
    signal.signal(signal.SIGTERM, _exit_on)
