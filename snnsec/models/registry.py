"""Model registry: an architecture is one file with a ``@register_model`` builder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

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


MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, input_shape: tuple[int, ...]) -> Callable[[Builder], Builder]:
    """Register ``builder(input_shape, num_classes, neuron, width) -> SpikingSequential``."""

    def deco(builder: Builder) -> Builder:
        MODELS[name] = ModelEntry(name, builder, input_shape)
        return builder

    return deco


def get_model_entry(name: str) -> ModelEntry:
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


