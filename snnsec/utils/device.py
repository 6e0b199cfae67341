"""``--device auto|cpu|cuda|cuda:N``: one resolution rule for every command.

``auto`` means the first CUDA device when torch sees one, else the CPU; under torchrun it means
the CUDA device of this process's ``LOCAL_RANK``. Asking for CUDA where there is none is an
:class:`~snnsec.errors.InputError` (one line, exit status 2), never a silent fall-back. So is a
node with more torchrun ranks than GPUs: nccl needs a GPU of its own for every rank (two ranks
sharing one H200 both failed), so snnsec refuses before any rank joins the group.
Files stay device-neutral: models and adversarial sets are always saved from CPU tensors and
loaded with ``map_location="cpu"``; only the running copy lives on the device.
"""

from __future__ import annotations

import os
import re

import torch

from snnsec.errors import InputError

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N"
_CUDA = re.compile(r"^cuda(?::(\d+))?$")


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """The torch device ``spec`` names.

    Args:
        spec: ``auto`` (or ``None``), ``cpu``, ``cuda`` or ``cuda:N``. Under torchrun, ``cuda``
            and ``auto`` pick ``cuda:LOCAL_RANK`` so each process on a node gets its own GPU.

    Raises:
        InputError: an unknown name, CUDA asked for without a CUDA device, or ``cuda:N`` beyond
            the devices torch sees.
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    text = (spec or "auto").strip().lower()
    if text == "cpu":
        return torch.device("cpu")
    local = os.environ.get("LOCAL_RANK")
    if text == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        text = "cuda"
    m = _CUDA.match(text)
    if m is None:
        raise InputError(f"unknown device {spec!r}; choose one of: {DEVICE_CHOICES}")
    if not torch.cuda.is_available():
        raise InputError(f"device {spec!r} requested but torch sees no CUDA device; use --device cpu or auto")
    count = torch.cuda.device_count()
    ranks = os.environ.get("LOCAL_WORLD_SIZE", "")
    shared = int(ranks) if ranks.isdigit() and int(ranks) > 1 else 0  # ranks of torchrun on this node
    if m.group(1) is not None:
        index = int(m.group(1))
        if shared:
            raise InputError(f"device {spec!r} would put all {shared} torchrun ranks of this node on one GPU; "
                             "use --device cuda (each rank takes cuda:LOCAL_RANK)")
    else:
        index = int(local) if local is not None and local.isdigit() else 0
        if shared > count:
            raise InputError(f"torchrun started {shared} ranks on this node but torch sees {count} CUDA device(s), "
                             f"and each rank needs its own GPU; use --nproc-per-node {count} or --device cpu")
    if index >= count:
        raise InputError(f"device {spec!r} requested but torch sees {count} CUDA device(s) (cuda:0..cuda:{count - 1})")
    return torch.device("cuda", index)


def module_device(module: torch.nn.Module) -> torch.device:
    """Where ``module``'s weights live: the CPU unless its running copy was moved (``--device``);
    the CPU for a module without parameters. Inputs go there batch by batch."""
    return next(module.parameters(), torch.empty(0)).device


def cuda_devices() -> list[dict[str, object]]:
    """The CUDA devices torch sees: index, name, memory (GiB) and compute capability."""
    if not torch.cuda.is_available():
        return []
    out: list[dict[str, object]] = []
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        out.append({"index": i, "name": p.name, "memory_gib": round(p.total_memory / 2**30, 1),
                    "capability": f"{p.major}.{p.minor}"})
    return out


def add_device_option(parser: object, help_extra: str = "") -> None:
    """Add ``--device`` (default ``auto``) to an argparse parser or group, unless it is there already."""
    if "--device" in getattr(parser, "_option_string_actions", {}):
        return
    parser.add_argument(  # type: ignore[attr-defined]
        "--device", default="auto", metavar="DEVICE",
        help=f"where torch runs: {DEVICE_CHOICES} (auto: CUDA when available, else CPU){help_extra}",
    )
