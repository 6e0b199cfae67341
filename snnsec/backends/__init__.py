"""Backends behind one protocol (:class:`~snnsec.backends.base.Backend`), and a registry by name.

A new backend is one file with a class that has ``name`` and ``predict(x, seed)``, plus one line
in :data:`BACKENDS`.
"""

from __future__ import annotations

import importlib
from typing import Any

from snnsec.backends.base import Backend, Prediction, input_steps
from snnsec.errors import unknown_choice
from snnsec.models.base import SpikingModel

# name -> "module:Class"; imported on use (Lava takes seconds to import)
BACKENDS: dict[str, str] = {
    "torch": "snnsec.backends.torch_backend:TorchBackend",
    "onnx": "snnsec.backends.onnx_backend:OnnxBackend",
    "lava-sim": "snnsec.backends.lava_sim:LavaSimBackend",
    "loihi2": "snnsec.backends.loihi2:Loihi2Backend",
    "loihi2-emu": "snnsec.backends.loihi2_emu:Loihi2EmuBackend",
}


def get_backend(name: str, model: SpikingModel, **options: Any) -> Backend:
    """Instantiate backend ``name`` for ``model``; ``options`` go to its constructor."""
    if name not in BACKENDS:
        raise unknown_choice("backend", name, BACKENDS)
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)(model, **options)  # type: ignore[no-any-return]


__all__ = ["BACKENDS", "Backend", "Prediction", "get_backend", "input_steps"]
