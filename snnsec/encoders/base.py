"""The encoder interface."""

from __future__ import annotations

import torch
from torch import nn


class Encoder(nn.Module):
    """Turns a batch of samples into a T-step sequence.

    Attributes:
        name: registry name, stored in model metadata.
        sample_ndim: dimensions of one sample as the user passes it (3 for [C, H, W] images,
            4 for [T, C, H, W] event frames).
        spiking: whether the sequence is binary spikes (Lava then feeds it as unary spikes)
            rather than analog values (fed as graded messages).
    """

    name: str = ""
    sample_ndim: int = 3
    spiking: bool = False

    def encode(self, x: torch.Tensor, T: int) -> torch.Tensor:
        """``x`` [B, ...] -> sequence [T, B, ...]."""
        raise NotImplementedError

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        """Time average of :meth:`encode` (its expectation for random encoders): [1, B, ...]."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, T: int) -> torch.Tensor:
        return self.encode(x, T)
