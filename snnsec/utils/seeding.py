"""Reproducibility helpers."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch Generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return seeded_generator(seed)


def seeded_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator on ``device`` seeded with ``seed``: what the attack loop draws random starts
    and noise from, on the device of the batch (a CPU generator cannot fill a CUDA tensor). The
    same seed gives the same draws on the CPU; CUDA's draws differ from the CPU's."""
    return torch.Generator(device=device).manual_seed(int(seed))
