"""SIGTERM and SIGHUP stop a command like Ctrl-C: Lava stopped, every worker ended (the resource
tracker included), partial work kept, exit 143 or 129; a repeated signal forces the exit.

Each command runs as a real subprocess in its own process group (session), so "no survivor"
means: no process of that group is left, and no process whose parent was one of them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.cost(30)]  # real deploy/craft subprocesses, each starting torch and Lava

REPO = Path(__file__).resolve().parents[2]


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, state) for every live process (psutil if installed)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    out: dict[int, tuple[int, int, str]] = {}
    if psutil is not None:
        for proc in psutil.process_iter(["pid", "ppid", "status"]):
            try:
                out[proc.pid] = (proc.info["ppid"], os.getpgid(proc.pid), proc.info["status"])
            except (psutil.Error, OSError):
                pass
        return out
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(entry)] = (int(fields[1]), int(fields[2]), fields[0])
    return out


def _family(leader: int, known: set[int]) -> set[int]:
    """Live (not zombie) processes in ``leader``'s group, or descended from it or from ``known``."""
    procs = _processes()
    family = {pid for pid, (_, pgid, state) in procs.items() if pgid == leader and state not in ("Z", "zombie")}
    roots = family | ({leader} | known)
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _, state) in procs.items():
            if ppid in roots and pid not in roots and state not in ("Z", "zombie"):
                roots.add(pid)
                family.add(pid)
                grew = True
    return {pid for pid in family if pid in procs}


def _start(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, SNNSEC_PROGRESS="0", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    # SIGHUP at its default in the child even when pytest itself runs under nohup: snnsec keeps
    # an inherited SIG_IGN for SIGHUP on purpose, which would make the SIGHUP case exit 0
    return subprocess.Popen([sys.executable, "-m", "snnsec", *argv], cwd=cwd, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))


def _wait_for(pred, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def _no_survivors(proc: subprocess.Popen[str], seen: set[int]) -> None:
    try:
        ok = _wait_for(lambda: not _family(proc.pid, seen), 15.0)
        assert ok, f"processes left behind: {sorted(_family(proc.pid, seen))}"
    finally:  # never leave them to the next test
        for pid in _family(proc.pid, seen):
            with __import__("contextlib").suppress(OSError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.lava
@pytest.mark.parametrize("how, signum, code", [
    ("pid", signal.SIGTERM, 143),
    ("pid", signal.SIGHUP, 129),
    ("group", signal.SIGTERM, 143),
    ("pid-three-times", signal.SIGTERM, 143),
], ids=["sigterm", "sighup", "sigterm-to-group", "sigterm-repeated-forces-exit"])
def test_signal_stops_lava_deploy_and_leaves_no_process(how, signum, code, tiny_files: Path, tmp_path: Path) -> None:
    proc = _start(["deploy", "--model", str(tiny_files / "m.pt"), "--backend", "lava-sim"], tmp_path)
    seen: set[int] = set()
    try:
        # wait until Lava's workers run (the group then holds main, the shared-memory manager,
        # the resource tracker and one worker per process)
        def running() -> bool:
            family = _family(proc.pid, seen)
            seen.update(family)
            return len(family) >= 6

        assert _wait_for(running, 120.0), f"Lava never started: {proc.poll()} {proc.stderr.read() if proc.poll() is not None else ''}"
        time.sleep(0.5)
        if how == "group":
            os.killpg(proc.pid, signum)
        else:
            for _ in range(3 if how == "pid-three-times" else 1):
                os.kill(proc.pid, signum)
                time.sleep(0.05)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == code, err[-2000:]
        assert "Traceback" not in err
        if how != "pid-three-times":  # a forced exit skips the message
            assert f"interrupted ({signal.Signals(signum).name})" in err
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        _no_survivors(proc, seen)


def test_sigterm_keeps_crafts_partial_work_for_a_resume(tiny_files: Path, tmp_path: Path) -> None:
    argv = ["craft", "--model", str(tiny_files / "m.pt"), "--attack", "stbp-pgd", "--eps", "0.1", "--steps", "20",
            "--n", "400", "--batch-size", "8", "--out", "a.pt", "--json"]
    proc = _start(argv, tmp_path)
    partial = tmp_path / "a.pt.partial"
    try:
        assert _wait_for(lambda: len(list(partial.glob("*batch*"))) >= 1 or proc.poll() is not None, 120.0)
        assert proc.poll() is None, "craft finished before it could be interrupted"
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 143, err[-2000:]
    assert "Traceback" not in err and "interrupted (SIGTERM)" in err
    assert partial.is_dir() and any(partial.iterdir()), "partial work was not kept"
    assert not (tmp_path / "a.pt").exists()
