"""The entry point of a process snnsec starts: its main function, then a cheap exit.

A Python process that imported torch spends about 0.3 CPU-s in its exit (2-core machine,
torch 2.13): the interpreter's shutdown runs a last full garbage collection, which walks every
object torch and its dependencies created at import, a fifth of a small command's whole cost
and of each torchrun rank's. :func:`run_process` calls :func:`gc.freeze` once the main function
has returned (or raised), so that collection skips them. Nothing else changes: reference
counting still frees what it frees, ``atexit`` handlers (multiprocessing's, torch.distributed's)
run, open files are flushed and closed as before. Only objects still held in reference cycles
at exit are left to the operating system, which CPython does not promise to finalize either;
snnsec closes its files and stops its workers explicitly. ``benchmarks/process_exit.py``
measures a command with and without it, side by side.

Library code never freezes: a caller of :func:`snnsec.cli.main.main` (a notebook, pytest) keeps
its collector as it was.

A torchrun worker also stops when its launcher dies (:func:`stop_with_launcher`), and ends
without the interpreter's shutdown (:func:`end_process`).
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

T = TypeVar("T")


def run_process(main: Callable[..., T], *args: object) -> T:
    """``main(*args)``, for a process that exits right after it: the objects alive at its return
    are frozen out of the garbage collector's last collection (see the module's docstring).

    A process that joined a torch.distributed group (a torchrun rank) and returned an exit code
    ends here, through :func:`end_process`, without the interpreter's shutdown."""
    try:
        result = main(*args)
    finally:
        gc.freeze()
    from snnsec.utils import distributed

    if distributed.joined_group() and isinstance(result, int):
        end_process(result)
    return result


def end_process(code: int) -> NoReturn:
    """Run the ``atexit`` handlers, flush stdout and stderr, and end the process with ``code``,
    skipping the rest of the interpreter's shutdown.

    For a torchrun rank. The process group's worker threads live on after
    ``destroy_process_group()`` (torch 2.13 keeps the group once DistributedDataParallel used
    it) and may still be releasing a finished collective's tensors, which takes the GIL. A
    thread that gets the GIL while the interpreter shuts down is ended by Python 3.11 inside
    C++: the rank aborts ("terminate called without an active exception", SIGABRT) after its
    work was done, and torchrun stops the other ranks (docs/scale.md, "A rank's last
    collective"). Nothing of the rank's own is lost: its files are closed when written, the
    ``atexit`` handlers (logging's flush, multiprocessing's children, ``weakref.finalize``) run
    here, while the interpreter is whole, after the wait for threads that are not daemons (both
    as the interpreter's own shutdown does them, in that order); only the teardown of modules and
    of objects still alive is left to the operating system, as :func:`gc.freeze` already leaves
    objects in cycles."""
    import atexit
    import threading

    try:
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join()
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


PR_SET_PDEATHSIG = 1
"""Linux ``prctl`` option: the signal this process gets when the thread that started it ends."""


def stop_with_launcher() -> bool:
    """In a torchrun worker on Linux, ask the kernel for SIGTERM when the launcher dies.

    torchrun starts each rank in a session of its own and passes SIGINT and SIGTERM on, but a
    launcher killed outright (SIGKILL, the OOM killer) passes nothing: its ranks ran on without
    it, to the end of the job (docs/scale.md, "Stopping a run").
    With ``PR_SET_PDEATHSIG`` the kernel sends the rank SIGTERM when the launcher goes, so it
    stops as it does on torchrun's own SIGTERM: finished batches stay for a resume, Lava workers
    are ended, exit 143. torchrun starts its workers from its main thread, so the signal comes
    when the launcher process ends, not before. A launcher that died in the moment between this
    rank's start and this call is not noticed.

    Returns whether the request was made: only under torchrun (``TORCHELASTIC_RUN_ID`` in the
    environment) and on Linux; a plain ``snnsec`` command keeps running when its shell goes.
    """
    if "TORCHELASTIC_RUN_ID" not in os.environ or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False
