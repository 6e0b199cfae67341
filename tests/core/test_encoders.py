"""Encoders: direct repetition, seeded Poisson with a straight-through gradient, frames."""

from __future__ import annotations

import pytest
import torch

from snnsec.encoders import DirectEncoder, FrameEncoder, PoissonEncoder, build_encoder
from snnsec.errors import InputError


def test_direct_repeats_the_normalised_image() -> None:
    enc = DirectEncoder(mean=[0.5], std=[0.25])
    x = torch.rand(2, 1, 4, 4)
    seq = enc.encode(x, 3)
    assert seq.shape == (3, 2, 1, 4, 4)
    for t in range(3):
        torch.testing.assert_close(seq[t], (x - 0.5) / 0.25)
    torch.testing.assert_close(enc.encode_mean(x)[0], seq.mean(0))


def test_poisson_is_seedable_binary_and_has_the_right_rate() -> None:
    x = torch.full((1, 1, 50, 50), 0.3)
    a = PoissonEncoder(seed=7).encode(x, 40)
    b = PoissonEncoder(seed=7).encode(x, 40)
    c = PoissonEncoder(seed=8).encode(x, 40)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert abs(a.mean().item() - 0.3) < 0.01


def test_poisson_straight_through_gradient_is_identity() -> None:
    x = torch.rand(2, 1, 5, 5, requires_grad=True)
    seq = PoissonEncoder(seed=0).encode(x, 6)
    weights = torch.randn_like(seq)
    (seq * weights).sum().backward()
    torch.testing.assert_close(x.grad, weights.sum(0))


def test_frames_pass_through_and_check_time_bins() -> None:
    frames = torch.rand(2, 5, 2, 8, 8)
    seq = FrameEncoder().encode(frames, 5)
    assert torch.equal(seq, frames.transpose(0, 1))
    with pytest.raises(InputError, match="5 time bins but the model runs T=4"):
        FrameEncoder().encode(frames, 4)


def test_unknown_encoder() -> None:
    with pytest.raises(InputError, match="unknown encoder 'rate'; choose one of: direct, frames, poisson"):
        build_encoder("rate")
