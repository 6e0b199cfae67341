"""Export a spiking model to ONNX, unrolled over its T time steps.

The graph holds T copies of the network with the neuron state carried between them, so any ONNX
runtime reproduces the model without knowing about spikes. Inputs:

- direct encoding: ``x`` ``[B, C, H, W]`` pixels in [0, 1] (normalisation is inside the graph);
- Poisson or event frames: ``x`` ``[T, B, ...]`` binary spikes (a random encoder cannot be
  reproduced by ONNX, so the host draws the spikes).

Output ``logits`` ``[B, classes]``: the time average, as :meth:`SpikingModel.forward` returns.
The neuron step is the neuron model's :meth:`~snnsec.neurons.NeuronModel.plain_step` (a plain
comparison) because the training neuron's surrogate-gradient autograd function has no ONNX form.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from snnsec.errors import InputError
from snnsec.models.base import SpikingModel
from snnsec.models.containers import ResidualBlock, SpikingSequential
from snnsec.neurons import LIF
from snnsec.utils.io import atomic_write

OPSET = 17


class UnrolledModel(nn.Module):
    """``model`` with its time loop unrolled and the neuron as a plain step (inference only)."""

    def __init__(self, model: SpikingModel) -> None:
        super().__init__()
        self.model = model
        self.T = int(model.T)
        self.direct = bool(model.encoder.static_steps)  # the graph takes the sample, not T steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state: dict[int, torch.Tensor] = {}
        total: torch.Tensor | None = None
        enc = self.model.encoder
        steps = [enc.from_host(x)] * self.T if self.direct else [enc.from_host(x[t]) for t in range(self.T)]
        for t in range(self.T):
            out = self._sequence(self.model.body, steps[t], state)
            total = out if total is None else total + out
        assert total is not None  # T >= 1
        return total / self.T

    def _sequence(self, seq: SpikingSequential, x: torch.Tensor, state: dict[int, torch.Tensor]) -> torch.Tensor:
        for m in seq.children():
            if isinstance(m, LIF):
                x = self._neuron(m, x, state)
            elif isinstance(m, ResidualBlock):
                main = self._sequence(m.main, x, state)
                short = self._sequence(m.shortcut, x, state) if len(m.shortcut) else x
                if not isinstance(m.neuron, LIF):
                    raise InputError("ONNX export supports residual blocks with LIF neurons only")
                x = self._neuron(m.neuron, main + short, state)
            elif isinstance(m, SpikingSequential):
                x = self._sequence(m, x, state)
            else:
                x = m(x)
        return x

    @staticmethod
    def _neuron(layer: LIF, current: torch.Tensor, state: dict[int, torch.Tensor]) -> torch.Tensor:
        prev = state.get(id(layer))
        s, state[id(layer)] = layer.neuron.plain_step(current, torch.zeros_like(current) if prev is None else prev)
        return s


def example_input(model: SpikingModel, batch: int = 2) -> torch.Tensor:
    steps = torch.from_numpy(model.encoder.host_steps(torch.rand(batch, *model.meta.input_shape), int(model.T)))
    return steps[:, 0] if model.encoder.static_steps else steps.transpose(0, 1).contiguous()


def export_onnx(model: SpikingModel, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Write ``model`` unrolled over T as ONNX (atomically); returns a summary."""
    import onnx

    if model.training:
        raise InputError("export needs an eval-mode model; call model.eval()")
    wrapper = UnrolledModel(model).eval()
    example = example_input(model)
    batch_axis = 0 if wrapper.direct else 1
    buf = io.BytesIO()
    # torch >= 2.5 defaults to the dynamo exporter; the Docker route's torch 2.3 has no such switch.
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        torch.onnx.export(
            wrapper, (example,), buf, input_names=["x"], output_names=["logits"],
            dynamic_axes={"x": {batch_axis: "batch"}, "logits": {0: "batch"}},
            opset_version=OPSET, **legacy,
        )
    proto = onnx.load_from_string(buf.getvalue())
    for key, value in {"snnsec.encoder": model.meta.encoder, "snnsec.T": str(model.T),
                       "snnsec.input": "x [B, C, H, W] in [0, 1]" if wrapper.direct else "x [T, B, ...] spikes",
                       "snnsec.arch": model.meta.arch}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    with atomic_write(Path(path), "wb") as fh:
        fh.write(proto.SerializeToString())
    return {"format": "onnx", "out": str(path), "opset": OPSET, "T": int(model.T),
            "input": "x [B, C, H, W]" if wrapper.direct else "x [T, B, ...]", "nodes": len(proto.graph.node)}
