"""Direct (analog) input: the normalised image, repeated at every time step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from snnsec.encoders.base import Encoder


class DirectEncoder(Encoder):
    """``((x - mean) / std)`` repeated T times, as in the paper's reference code.

    Args:
        mean, std: per-channel normalisation (``None`` keeps pixels as they are).
    """

    name = "direct"
    static_steps = True
    normalises = True
    description = "pixels in [0, 1], the same value at each of the T steps"

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

    def host_steps(self, x: torch.Tensor, T: int, seed: int = 0) -> np.ndarray:
        x = x.detach().cpu().float()
        return x.unsqueeze(1).expand(x.shape[0], T, *x.shape[1:]).numpy().copy()

    def from_host(self, seq: torch.Tensor) -> torch.Tensor:
        return self.normalise(seq)

    def host_normalisation(self) -> tuple[np.ndarray, np.ndarray]:
        return self.mean.detach().cpu().double().numpy().reshape(-1), self.std.detach().cpu().double().numpy().reshape(-1)

    @classmethod
    def from_meta(cls, meta: Any) -> "DirectEncoder":
        norm = meta.normalization or {}
        return cls(norm.get("mean"), norm.get("std"))

    def to_meta(self) -> dict[str, Any]:
        mean, std = self.host_normalisation()
        identity = bool(np.all(mean == 0.0) and np.all(std == 1.0))
        return {"encoder": self.name,
                "normalization": None if identity else {"mean": mean.tolist(), "std": std.tolist()}}


def _channel_tensor(values: Sequence[float] | None, default: float) -> torch.Tensor:
    if values is None:
        return torch.tensor(default)
    return torch.tensor([float(v) for v in values]).view(-1, 1, 1)
