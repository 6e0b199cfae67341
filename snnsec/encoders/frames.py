"""Event frames, passed straight through: a sample is already ``[T, C, H, W]``."""

from __future__ import annotations

import torch

from snnsec.encoders.base import Encoder
from snnsec.errors import InputError


class FrameEncoder(Encoder):
    """Batches ``[B, T, C, H, W]`` of event frames become sequences ``[T, B, C, H, W]``."""

    name = "frames"
    sample_ndim = 4

    def encode(self, x: torch.Tensor, T: int) -> torch.Tensor:
        if x.dim() != 5:
            raise InputError(f"expected event frames with shape [B, T, C, H, W], got {tuple(x.shape)}")
        if x.shape[1] != T:
            raise InputError(
                f"event frames have {x.shape[1]} time bins but the model runs T={T}; "
                "re-bin the events with the model's T"
            )
        return x.transpose(0, 1)

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise InputError(f"expected event frames with shape [B, T, C, H, W], got {tuple(x.shape)}")
        return x.mean(dim=1).unsqueeze(0)
