"""Models described by their layer list: the architecture of imported models (NIR graphs).

An imported model has no registry name that rebuilds it, so its :class:`ModelMeta` carries the
layer list itself (``meta.layers``) and its ``arch`` is ``"sequential"``. Each entry is plain JSON
data; the weights live in the state_dict as usual, so such a model file loads with the same
weights-only safety as every other one. Layer types:

- ``conv2d``: ``in``, ``out``, ``kernel``, ``stride``, ``padding``, ``dilation`` (pairs),
  ``groups``, ``bias`` (bool);
- ``linear``: ``in``, ``out``, ``bias``;
- ``avgpool2d``: ``kernel``, ``stride``, ``padding`` (pairs);
- ``flatten``: ``start_dim``, ``end_dim`` (torch's, with the batch as dimension 0);
- ``scale``: ``shape``: an elementwise gain (a buffer);
- ``lif``: ``neuron``: that layer's :class:`~snnsec.neurons.NeuronParameters` as a dict (layers
  may differ).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from snnsec.errors import InputError, unknown_choice
from snnsec.models.containers import SpikingSequential
from snnsec.models.registry import register_graph_arch
from snnsec.neurons import LIF, NeuronParameters

ARCH = "sequential"


class Scale(nn.Module):
    """Elementwise gain ``x * scale`` with ``scale`` broadcast over the batch (NIR ``Scale``)."""

    def __init__(self, shape: list[int]) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale

    def extra_repr(self) -> str:
        return f"shape={list(self.scale.shape)}"


def _pair(v: Any, field: str, i: int) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(a, int) for a in v):
        return (int(v[0]), int(v[1]))
    raise InputError(f"layer {i}: {field} must be an int or a pair of ints, got {v!r}")


def build_layer(spec: dict[str, Any], i: int) -> nn.Module:
    """One module from its layer entry."""
    if not isinstance(spec, dict) or "type" not in spec:
        raise InputError(f"layer {i}: expected a mapping with a 'type', got {spec!r}")
    kind = spec["type"]
    try:
        if kind == "conv2d":
            return nn.Conv2d(int(spec["in"]), int(spec["out"]), _pair(spec["kernel"], "kernel", i),
                             stride=_pair(spec["stride"], "stride", i), padding=_pair(spec["padding"], "padding", i),
                             dilation=_pair(spec.get("dilation", 1), "dilation", i), groups=int(spec.get("groups", 1)),
                             bias=bool(spec["bias"]))
        if kind == "linear":
            return nn.Linear(int(spec["in"]), int(spec["out"]), bias=bool(spec["bias"]))
        if kind == "avgpool2d":
            return nn.AvgPool2d(_pair(spec["kernel"], "kernel", i), stride=_pair(spec["stride"], "stride", i),
                                padding=_pair(spec.get("padding", 0), "padding", i))
        if kind == "flatten":
            return nn.Flatten(int(spec.get("start_dim", 1)), int(spec.get("end_dim", -1)))
        if kind == "scale":
            return Scale([int(v) for v in spec["shape"]])
        if kind == "lif":
            return LIF(NeuronParameters(**spec["neuron"]).validated())
    except KeyError as exc:
        raise InputError(f"layer {i} ({kind}): missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"layer {i} ({kind}): {exc}") from None
    raise unknown_choice(f"layer {i} type", kind, ["conv2d", "linear", "avgpool2d", "flatten", "scale", "lif"])


def build_sequential(meta: Any) -> SpikingSequential:
    """The body that ``meta.layers`` describes (untrained)."""
    layers = getattr(meta, "layers", None)
    if not isinstance(layers, list) or not layers:
        raise InputError(f"architecture {ARCH!r} needs the layer list in the model metadata ('layers'), got {layers!r}")
    return SpikingSequential(*[build_layer(spec, i) for i, spec in enumerate(layers)])


register_graph_arch(ARCH, build_sequential)
