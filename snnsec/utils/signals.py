"""Which stop signal a command received, shared by the CLI and the code that runs workers.

SIGINT, SIGTERM and SIGHUP all mean "stop cleanly": the first one raises ``KeyboardInterrupt`` in
the main process (or, while Lava streams, sets a flag that stops it after the current chunk), so
every ``finally`` block runs, workers are ended and partial work stays on disk for a resume. The
exit status is ``128 + signal number`` of the first one (130, 143, 129). Once stopping has begun,
a further signal forces the exit: child processes are ended and the process leaves at once.

A file write holds the first signal back (:func:`deferred`, which every atomic write uses): a
``KeyboardInterrupt`` raised inside ``torch.save`` tears its zip writer, which then fails with
its own ``RuntimeError`` ("unexpected pos ...") instead, and the command reported an error (exit 1)
rather than the stop. The write finishes, then the stop is raised; a second signal still forces
the exit at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

STOP_SIGNALS: tuple[int, ...] = tuple(
    s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
    if s is not None
)

received: list[int] = []
"""Stop signals this process received during the current command, first first."""

_deferring = 0  # how many deferred() blocks are open
_held = False  # a first stop signal arrived inside one of them


def reset() -> None:
    global _held
    received.clear()
    _held = False


def record(signum: int) -> None:
    received.append(signum)


def exit_code() -> int:
    """``128 + n`` for the first stop signal received; 130 (SIGINT) when none was recorded."""
    return 128 + (received[0] if received else int(signal.SIGINT))


def name() -> str:
    with contextlib.suppress(ValueError):
        return signal.Signals(received[0] if received else signal.SIGINT).name
    return "signal"


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold a first stop signal until this block ends, then raise its ``KeyboardInterrupt``.

    For short work that an exception in the middle would corrupt rather than stop (a file being
    written). The signal is recorded when it arrives, as always; a second one forces the exit
    as always. If the block fails by itself, its own exception propagates instead. Only the main
    thread (where Python runs signal handlers) holds signals; elsewhere the block just runs."""
    global _deferring, _held
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferring += 1
    done = False
    try:
        yield
        done = True
    finally:
        _deferring -= 1
        if _held and not _deferring:
            _held = False
            if done:
                raise KeyboardInterrupt


def end_children(timeout: float = 2.0) -> None:
    """Terminate, then kill, every live child started through ``multiprocessing``."""
    import multiprocessing

    import time

    children = multiprocessing.active_children()
    for child in children:
        with contextlib.suppress(Exception):
            child.terminate()
    deadline = time.monotonic() + timeout
    for child in children:  # the plain join: Lava's SystemProcess.join takes no timeout
        with contextlib.suppress(Exception):
            multiprocessing.Process.join(child, max(0.0, deadline - time.monotonic()))
    for child in children:  # workers that ignore SIGTERM
        with contextlib.suppress(Exception):
            if child.is_alive():
                child.kill()
        with contextlib.suppress(Exception):
            multiprocessing.Process.join(child, timeout)


def _stray_children() -> list[int]:
    """Live direct children of this process that ``multiprocessing`` does not list (Linux /proc).

    A signal that lands inside ``Process.start()`` after the fork, but before the parent records
    the child, leaves a worker that ``active_children()`` misses. Multiprocessing's resource
    tracker is left out: it leaves by itself once every holder of its pipe is gone, and it is the
    process that unlinks the shared memory the workers used."""
    from multiprocessing import resource_tracker

    tracker = getattr(getattr(resource_tracker, "_resource_tracker", None), "_pid", None)
    me, found = os.getpid(), []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in (me, tracker):
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == me and fields[0] != "Z":
                    found.append(int(entry))
    return found


def force_exit() -> None:
    """The second signal: end the children and leave now, skipping the rest of the cleanup."""
    end_children(timeout=1.0)
    for pid in _stray_children():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    os._exit(exit_code())


class _Handler:
    """First stop signal: record it and raise ``KeyboardInterrupt``; later ones: force the exit.

    Forked children inherit the handler; in them (another pid) the signal's default action runs.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()

    def __call__(self, signum: int, frame: Any) -> None:
        if os.getpid() != self.pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        global _held
        if received:
            force_exit()
        record(signum)
        if _deferring:  # a write in progress: deferred() raises when it is done
            _held = True
            return
        raise KeyboardInterrupt


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """Install :class:`_Handler` for SIGINT, SIGTERM and SIGHUP in this block (main thread only)."""
    reset()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler: Callable[[int, Any], None] = _Handler()
    previous = {}
    for sig in STOP_SIGNALS:
        # nohup ignores SIGHUP on purpose: stay deaf to it. An inherited SIG_IGN for SIGINT or
        # SIGTERM (a parent that ignored them) does not mean "never stop": those are explicit.
        if sig == getattr(signal, "SIGHUP", None) and signal.getsignal(sig) is signal.SIG_IGN:
            continue
        with contextlib.suppress(ValueError, OSError):
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, old)
