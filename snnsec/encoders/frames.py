"""Event frames, passed straight through: a sample is already ``[T, C, H, W]``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from snnsec.encoders.base import Encoder
from snnsec.errors import InputError


class FrameEncoder(Encoder):
    """Batches ``[B, T, C, H, W]`` of event frames become sequences ``[T, B, C, H, W]``."""

    name = "frames"
    sample_ndim = 4
    time_extensible = False  # a recording is binned into exactly T frames
    description = "event frames, frame t at step t"

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

    def host_steps(self, x: torch.Tensor, T: int, seed: int = 0) -> np.ndarray:
        return x.detach().cpu().float().numpy().copy()

    @classmethod
    def check_input_shape(cls, shape: Sequence[int], T: int) -> None:
        if len(shape) != 4:
            raise InputError(f"the frames encoder needs input_shape [T, C, H, W], got {list(shape)}")
        if shape[0] != T:
            raise InputError(f"frames have {shape[0]} time bins but T={T}; they must agree")

    @classmethod
    def step_shape(cls, input_shape: Sequence[int]) -> tuple[int, ...]:
        return tuple(int(v) for v in input_shape[1:])

    @classmethod
    def sample_shape(cls, step_shape: Sequence[int], T: int) -> list[int]:
        return [int(T), *(int(v) for v in step_shape)]
