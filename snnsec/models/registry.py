"""Model registry: an architecture is one file with a ``@register_model`` builder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from snnsec.errors import unknown_choice
from snnsec.models.containers import SpikingSequential


Builder = Callable[..., SpikingSequential]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Builder
    input_shape: tuple[int, ...]
    """Default input shape of one sample (the paper's setting)."""
    from_meta: Callable[[Any], SpikingSequential] | None = None
    """Builds the body from the whole metadata (architectures described by a layer list)."""

    def build(self, meta: Any) -> SpikingSequential:
        """The untrained body that ``meta`` describes."""
        if self.from_meta is not None:
            return self.from_meta(meta)
        return self.builder(meta.input_shape, meta.num_classes, meta.neuron_params.validated(), meta.width)


MODELS: dict[str, ModelEntry] = {}
GRAPH_ARCHS: dict[str, ModelEntry] = {}
"""Architectures rebuilt from their metadata's layer list; not buildable by name, so not in MODELS."""


def register_graph_arch(name: str, from_meta: Callable[[Any], SpikingSequential]) -> None:
    def by_name(*_: Any, **__: Any) -> SpikingSequential:
        raise unknown_choice("architecture", name, MODELS)

    GRAPH_ARCHS[name] = ModelEntry(name, by_name, (), from_meta)


def register_model(name: str, input_shape: tuple[int, ...]) -> Callable[[Builder], Builder]:
    """Register ``builder(input_shape, num_classes, neuron, width) -> SpikingSequential``."""

    def deco(builder: Builder) -> Builder:
        MODELS[name] = ModelEntry(name, builder, input_shape)
        return builder

    return deco


def get_model_entry(name: str) -> ModelEntry:
    if name in GRAPH_ARCHS:
        return GRAPH_ARCHS[name]
    if name not in MODELS:
        raise unknown_choice("architecture", name, MODELS)
    return MODELS[name]


def scaled(channels: int, width: float) -> int:
    """Channels after the width multiplier (at least 1)."""
    return max(1, int(round(channels * width)))


def flat_features(layers: Sequence[nn.Module], image_shape: Sequence[int]) -> int:
    """Number of features after ``layers`` for one image ``[C, H, W]`` (shape-only dry run)."""
    from snnsec.models.containers import time_folded
    from snnsec.neurons import SpikingModule

    x = torch.zeros(1, 1, *image_shape)
    with torch.no_grad():
        for layer in layers:
            if isinstance(layer, SpikingModule):
                x, _ = layer(x)
            else:
                was_training = layer.training
                layer.eval()
                x = time_folded(layer, x)
                layer.train(was_training)
    return int(x[0, 0].numel())


