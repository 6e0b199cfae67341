"""Model files that load without unpickling arbitrary objects.

A ``*.pt`` model file is ``torch.save`` of a plain dict::

    {"format": "snnsec-model", "format_version": 1, "meta": {...JSON data...}, "state_dict": {...}}

It is read with ``torch.load(weights_only=True)``, whose unpickler accepts only tensors and
primitive containers; a file that would execute code (``__reduce__`` payloads), a truncated file
or a foreign checkpoint is refused with one line naming the problem, and nothing runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from snnsec.errors import InputError
from snnsec.models.base import SpikingModel
from snnsec.models.build import model_from_meta
from snnsec.models.meta import ModelMeta
from snnsec.utils.io import atomic_torch_save, safe_torch_load
from snnsec.utils.schema import check_state_dict, compare_state_dict, need_keys

FORMAT = "snnsec-model"
FORMAT_VERSION = 1


def save_model(model: SpikingModel, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` (weights + metadata) atomically to ``path``."""
    from snnsec import __version__

    model.meta.snnsec_version = __version__
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "meta": model.meta.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    atomic_torch_save(payload, path)
    return Path(path)


def read_payload(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and validate the raw payload of a model file (weights-only unpickler)."""
    payload = safe_torch_load(path, "model file", FORMAT, FORMAT_VERSION, "a *.pt written by `snnsec train`")
    need_keys(str(path), "the file", payload, ("meta", "state_dict"), ("format", "format_version", "meta", "state_dict"))
    if not isinstance(payload.get("state_dict"), dict):
        raise InputError(f"{path} has no state_dict")
    check_state_dict(payload["state_dict"], str(path))
    return payload


def load_model(path: str | os.PathLike[str]) -> SpikingModel:
    """Load a model file into an eval-mode :class:`SpikingModel` with its metadata in ``.meta``.

    The returned module maps images ``[B, C, H, W]`` in [0, 1] to time-averaged logits
    ``[B, classes]``.
    """
    payload = read_payload(path)
    meta = ModelMeta.from_dict(payload["meta"], str(path))
    model = model_from_meta(meta)
    compare_state_dict(model.state_dict(), payload["state_dict"], str(path), f"architecture {meta.arch!r}")
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        raise InputError(f"{path}: weights do not match architecture {meta.arch!r}: {detail}") from None
    model.eval()
    return model
