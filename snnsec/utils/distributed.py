"""torch.distributed under torchrun: process-group set-up, rank helpers, rank-0-only output.

snnsec does not launch processes itself: ``torchrun`` (``python -m torch.distributed.run``)
starts them and sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``. :func:`session` reads those, joins the process group (gloo for CPU, nccl for
CUDA), silences progress and info logs on every rank but 0, and always leaves the group again,
on errors too. Without torchrun (or with one process) everything here is a no-op and the code
path is the plain single-process one.

Only rank 0 writes result files and prints; the other ranks write only per-batch files whose
names say which batch they hold, so a run can be resumed by any number of ranks
(:mod:`snnsec.utils.shards`, used by ``craft``, ``evaluate`` and ``deploy``).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch

log = logging.getLogger(__name__)

#: how long a rank waits for the others at a collective (batches are uneven across ranks)
TIMEOUT_ENV = "SNNSEC_DIST_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 3600


def launched_world_size() -> int:
    """``WORLD_SIZE`` as torchrun set it (1 without torchrun)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True on rank 0 (and in every single-process run): the one process that writes and prints."""
    return rank() == 0


def _comm_device() -> torch.device:
    import torch.distributed as dist

    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


#: the longest a collective waits for gloo's worker thread to let go of its tensor (see _collective)
RELEASE_WAIT_S = 1.0


def _collective(call: Callable[..., Any], t: torch.Tensor, /, **kwargs: Any) -> None:
    """``call(t, **kwargs)``, a blocking collective, returning once the backend has let go of ``t``.

    gloo runs a collective on a worker thread and wakes the caller as soon as the result is in
    ``t``; the worker drops its own reference to ``t`` a moment later, and since ``t`` has a Python
    object, that takes the GIL. When the collective was a rank's last step, its interpreter may be
    shutting down by then: Python 3.11 ends a thread that asks for the GIL during shutdown, inside
    C++, and the rank aborts ("terminate called without an active exception", SIGABRT), so
    torchrun stops the others and the command fails after its work was done. A 2-rank
    ``snnsec train`` failed that way in about 1 run of 8 on a busy 2-core machine. Measured here
    (torch 2.13, gloo): in 5 to 36 % of 2,000 all_reduces the worker still held the tensor when
    the call returned. So the caller waits, GIL released, until the tensor's reference count is
    back where it was (microseconds). Only for CPU tensors (gloo): NCCL's watchdog releases its
    work on its own schedule, and that path was not measured.
    """
    before = sys.getrefcount(t)
    call(t, **kwargs)
    if t.device.type != "cpu":
        return
    deadline = time.monotonic() + RELEASE_WAIT_S
    while sys.getrefcount(t) > before and time.monotonic() < deadline:
        time.sleep(0.0002)


def barrier() -> None:
    if is_distributed():
        import torch.distributed as dist

        dist.barrier()


def all_agree(ok: bool) -> bool:
    """True when ``ok`` holds on every rank. Every rank must call it (a collective): a rank that
    failed calls it with ``False`` instead of leaving the others waiting at a barrier."""
    if not is_distributed():
        return ok
    import torch.distributed as dist

    t = torch.tensor([1 if ok else 0], dtype=torch.int32, device=_comm_device())
    _collective(dist.all_reduce, t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def all_sum(values: list[float]) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (float64; identity without a group)."""
    if not is_distributed():
        return list(values)
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=_comm_device())
    _collective(dist.all_reduce, t)
    return [float(v) for v in t.cpu()]


def from_main(values: list[int]) -> list[int]:
    """Rank 0's ``values`` on every rank (int64 broadcast; identity without a group). Every rank
    must call it with a list of the same length; what the others pass is ignored."""
    if not is_distributed():
        return list(values)
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.int64, device=_comm_device())
    _collective(dist.broadcast, t, src=0)
    return [int(v) for v in t.cpu()]


def shard(items: list[int]) -> list[int]:
    """This rank's share of ``items``: every ``world_size()``-th, starting at ``rank()``."""
    return items[rank()::world_size()]


_joined = False


def joined_group() -> bool:
    """True once this process has joined a process group (:func:`session`), also after it left."""
    return _joined


@contextlib.contextmanager
def session(device: torch.device) -> Iterator[None]:
    """Join torchrun's process group for the duration of a command (no-op without torchrun).

    gloo for CPU, nccl for CUDA (each rank on its own GPU: ``device`` should come from
    :func:`snnsec.utils.device.resolve_device`, which picks ``cuda:LOCAL_RANK``). Ranks other
    than 0 get no progress bars and only warnings in the log. The group is destroyed on the way
    out, also when the command raised.
    """
    import torch.distributed as dist

    world = launched_world_size()
    if world <= 1 or not dist.is_available() or dist.is_initialized():
        yield
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(device)
    timeout = datetime.timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)))
    dist.init_process_group(backend=backend, timeout=timeout)
    global _joined
    _joined = True
    saved_progress = os.environ.get("SNNSEC_PROGRESS")
    root = logging.getLogger()
    saved_level = root.level
    if dist.get_rank() != 0:
        os.environ["SNNSEC_PROGRESS"] = "0"
        root.setLevel(logging.WARNING)
    log.info("joined a %s process group of %d ranks", backend, dist.get_world_size())
    try:
        yield
    finally:
        root.setLevel(saved_level)
        if saved_progress is None:
            os.environ.pop("SNNSEC_PROGRESS", None)
        else:
            os.environ["SNNSEC_PROGRESS"] = saved_progress
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def single_process_only(command: str) -> None:
    """Refuse to run ``command`` as several torchrun ranks (each would redo all the work and
    print its own report): one line, exit status 2."""
    if launched_world_size() > 1:
        from snnsec.errors import InputError

        raise InputError(f"`snnsec {command}` does not shard across ranks (WORLD_SIZE={launched_world_size()}); "
                         f"run it in one process")
