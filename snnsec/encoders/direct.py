"""Direct (analog) input: the normalised image, repeated at every time step."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from snnsec.encoders.base import Encoder


class DirectEncoder(Encoder):
    """``((x - mean) / std)`` repeated T times, as in the paper's reference code.

    Args:
        mean, std: per-channel normalisation (``None`` keeps pixels as they are).
    """

    name = "direct"

    def __init__(
        self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None
    ) -> None:
        super().__init__()
        self.register_buffer("mean", _channel_tensor(mean, 0.0), persistent=False)
        self.register_buffer("std", _channel_tensor(std, 1.0), persistent=False)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def encode(self, x: torch.Tensor, T: int) -> torch.Tensor:
        return self.normalise(x).unsqueeze(0).expand(T, *x.shape)

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalise(x).unsqueeze(0)


def _channel_tensor(values: Sequence[float] | None, default: float) -> torch.Tensor:
    if values is None:
        return torch.tensor(default)
    return torch.tensor([float(v) for v in values]).view(-1, 1, 1)
