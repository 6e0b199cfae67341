"""Containers that thread explicit neuron state through a network of ``[T, B, ...]`` sequences.

Stateless layers (``nn.Conv2d``, ``nn.Linear``, ``nn.BatchNorm*``, ``nn.AvgPool2d``,
``nn.Flatten``, ...) sit in these containers unwrapped and run once on the time-folded
``[T*B, ...]`` view; :class:`~snnsec.neurons.SpikingModule` children receive the sequence and
their own state. The state of a container is a dict keyed by child name, so the whole network
state is one nested dict, returned by every call.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from snnsec.neurons.module import SpikingModule

State = dict[str, Any]


def time_folded(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a stateless layer to a sequence ``[T, B, ...]`` as one batch of ``T*B``."""
    T, B = x.shape[:2]
    return layer(x.flatten(0, 1)).unflatten(0, (T, B))


class SpikingSequential(SpikingModule, nn.Sequential):
    """``nn.Sequential`` over sequences, with explicit state for its spiking children."""

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, State]:
        state = state or {}
        new_state: State = {}
        for name, layer in self.named_children():
            if isinstance(layer, SpikingModule):
                x, new_state[name] = layer(x, state.get(name))
            else:
                x = time_folded(layer, x)
        return x, new_state


class ResidualBlock(SpikingModule):
    """``out = neuron(main(x) + shortcut(x))``; an empty shortcut is the identity."""

    def __init__(self, main: SpikingSequential, shortcut: SpikingSequential, neuron: SpikingModule):
        super().__init__()
        self.main = main
        self.shortcut = shortcut
        self.neuron = neuron

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        state = state or {}
        m, sm = self.main(x, state.get("main"))
        s, ss = self.shortcut(x, state.get("shortcut")) if len(self.shortcut) else (x, {})
        z, sn = self.neuron(m + s, state.get("neuron"))
        return z, {"main": sm, "shortcut": ss, "neuron": sn}
