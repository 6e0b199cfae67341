"""Exporters: a trained model as a file that other tools run.

A new format is one file with an ``export_<format>(model, path, **options) -> dict`` function plus
one line in :data:`EXPORTERS`.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from snnsec.errors import unknown_choice
from snnsec.models.base import SpikingModel

# format -> "module:function"; imported on use
EXPORTERS: dict[str, str] = {
    "netx": "snnsec.export.netx_hdf5:export_netx",
    "onnx": "snnsec.export.onnx:export_onnx",
    "nir": "snnsec.interop.nir:export_nir",
}


def export(model: SpikingModel, fmt: str, path: str | os.PathLike[str], **options: Any) -> dict[str, Any]:
    """Write ``model`` as ``fmt`` to ``path``; returns the exporter's summary (JSON-ready)."""
    if fmt not in EXPORTERS:
        raise unknown_choice("export format", fmt, EXPORTERS)
    module, func = EXPORTERS[fmt].split(":")
    return getattr(importlib.import_module(module), func)(model, path, **options)  # type: ignore[no-any-return]


__all__ = ["EXPORTERS", "export"]
