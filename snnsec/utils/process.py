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
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run_process(main: Callable[..., T], *args: object) -> T:
    """``main(*args)``, for a process that exits right after it: the objects alive at its return
    are frozen out of the garbage collector's last collection (see the module's docstring)."""
    try:
        return main(*args)
    finally:
        gc.freeze()
