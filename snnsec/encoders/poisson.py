r"""Poisson (Bernoulli-per-step) rate encoding with a straight-through gradient (paper §4.4).

Forward: :math:`s_t \sim \mathrm{Bernoulli}(x)` independently at each step, with pixels in
[0, 1] as firing probabilities (no normalisation, as in the reference code).
Backward: the identity, :math:`\partial\,\mathrm{Poisson}(x)/\partial x \approx
\partial\,\mathbb{E}[\mathrm{Poisson}(x)]/\partial x = 1` (Eq. 20).
"""

from __future__ import annotations

import numpy as np
import torch

from snnsec.encoders.base import Encoder


class PoissonEncoder(Encoder):
    """Bernoulli spikes per step with a straight-through estimator.

    Args:
        seed: seeds this encoder's own generator, so draws are reproducible and independent of
            the global RNG. ``None`` uses the global RNG. Call :meth:`reseed` to restart.
    """

    name = "poisson"
    spiking = True
    stochastic = True
    description = "Bernoulli(pixel) spikes at each step"

    def __init__(self, seed: int | None = None) -> None:
        super().__init__()
        self.seed = seed
        self.generator: torch.Generator | None = None
        self.reseed(seed)

    def reseed(self, seed: int | None) -> None:
        self.seed = seed
        if seed is None:
            self.generator = None
        else:
            self.generator = torch.Generator()
            self.generator.manual_seed(seed)

    def encode(self, x: torch.Tensor, T: int) -> torch.Tensor:
        p = x.clamp(0.0, 1.0).unsqueeze(0).expand(T, *x.shape)
        gen = self.generator
        if gen is not None and gen.device != p.device:
            # a seeded encoder draws on its own (CPU) generator: the same spikes on any device
            draws = torch.bernoulli(p.detach().to(gen.device), generator=gen).to(p.device)
        else:
            draws = torch.bernoulli(p.detach(), generator=gen)
        # straight-through: the value of the draw, the gradient of the identity
        return draws + (p - p.detach())

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(0.0, 1.0).unsqueeze(0)

    def host_steps(self, x: torch.Tensor, T: int, seed: int = 0) -> np.ndarray:
        gen = torch.Generator().manual_seed(int(seed))
        p = x.detach().cpu().float().clamp(0.0, 1.0).unsqueeze(0).expand(T, *x.shape)
        return torch.bernoulli(p, generator=gen).transpose(0, 1).numpy().copy()
