"""The encoder protocol: how a sample becomes T input steps, everywhere it is used.

An encoder class is the single home of:

- its input **domain** (what the threat model clips to) and the sample shape it accepts;
- :meth:`Encoder.encode`, differentiable in the sample (random encoders use a straight-through
  estimator), and :meth:`Encoder.encode_mean`, its time average, which rate-domain gradients use;
- the **host steps**: what a host sends to a backend or to hardware, drawn once from a seed
  (:meth:`Encoder.host_steps`), and how the model reads them (:meth:`Encoder.from_host`);
- its **metadata round trip** (:meth:`Encoder.to_meta` / :meth:`Encoder.from_meta`);
- what exporters need: whether every step equals the sample (:attr:`Encoder.static_steps`),
  the normalisation to fold into the first layer, and whether its steps are spikes.

Nothing outside :mod:`snnsec.encoders` tests an encoder's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from snnsec.errors import InputError


class Encoder(nn.Module):
    """Turns a batch of samples into a T-step sequence.

    Attributes:
        name: registry name, stored in model metadata.
        sample_ndim: dimensions of one sample as the user passes it (3 for [C, H, W] images,
            4 for [T, C, H, W] event frames).
        spiking: whether the steps are binary spikes (Lava then feeds them as unary spikes)
            rather than analog values (fed as graded messages).
        static_steps: every step equals the sample (direct input): exporters may take the
            sample instead of T steps.
        stochastic: the steps are random draws (expectation over transformation applies).
        time_extensible: the number of steps can differ from the model's T (time extension).
        normalises: it applies a per-channel normalisation (the model file's ``normalization``).
        domain: ``(low, high)`` of the samples it accepts; the threat model clips to it.
        description: what a host sends per step, in one line (written into exported files).
    """

    name: ClassVar[str] = ""
    sample_ndim: ClassVar[int] = 3
    spiking: ClassVar[bool] = False
    static_steps: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False
    time_extensible: ClassVar[bool] = True
    normalises: ClassVar[bool] = False
    domain: ClassVar[tuple[float, float]] = (0.0, 1.0)
    description: ClassVar[str] = ""

    # -- the model side ---------------------------------------------------------------------
    def encode(self, x: torch.Tensor, T: int) -> torch.Tensor:
        """``x`` [B, ...] -> sequence [T, B, ...]; differentiable in ``x``."""
        raise NotImplementedError

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        """Time average of :meth:`encode` (its expectation for random encoders): [1, B, ...]."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, T: int) -> torch.Tensor:
        return self.encode(x, T)

    # -- the host side ----------------------------------------------------------------------
    def host_steps(self, x: torch.Tensor, T: int, seed: int = 0) -> np.ndarray:
        """The T steps ``[N, T, *step_shape]`` a host sends for ``x`` [N, ...], before any
        normalisation; random draws come from ``seed`` (the draws of this encoder reseeded
        with ``seed`` on the whole batch), so every backend sees the same steps."""
        raise NotImplementedError

    def from_host(self, seq: torch.Tensor) -> torch.Tensor:
        """Host steps ``[T, B, ...]`` -> the sequence the model's first layer reads."""
        return seq

    def host_normalisation(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-channel ``(offset, std)`` that :meth:`from_host` applies, for exporters to fold
        into the first layer (the host subtracts ``offset``); ``None`` if it applies none."""
        return None

    # -- shapes and metadata ------------------------------------------------------------------
    @classmethod
    def check_input_shape(cls, shape: Sequence[int], T: int) -> None:
        """Refuse a model ``input_shape`` this encoder cannot read."""
        if len(shape) != cls.sample_ndim:
            raise InputError(f"the {cls.name} encoder needs input_shape [C, H, W], got {list(shape)}")

    @classmethod
    def step_shape(cls, input_shape: Sequence[int]) -> tuple[int, ...]:
        """One input step's shape for a model ``input_shape``."""
        return tuple(int(v) for v in input_shape)

    @classmethod
    def sample_shape(cls, step_shape: Sequence[int], T: int) -> list[int]:
        """A model ``input_shape`` from one step's shape (the inverse of :meth:`step_shape`)."""
        return [int(v) for v in step_shape]

    @classmethod
    def from_meta(cls, meta: Any) -> "Encoder":
        """The encoder a :class:`~snnsec.models.ModelMeta` describes."""
        return cls()

    def to_meta(self) -> dict[str, Any]:
        """The :class:`~snnsec.models.ModelMeta` fields that :meth:`from_meta` reads back."""
        return {"encoder": self.name}

    def reseed(self, seed: int | None) -> None:
        """Restart the draws of a random encoder (nothing to do for a deterministic one)."""
