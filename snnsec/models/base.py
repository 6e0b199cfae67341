"""The spiking model: encoder -> body over T steps -> time-averaged logits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from snnsec.encoders import Encoder
from snnsec.errors import InputError
from snnsec.models.containers import SpikingSequential, State
from snnsec.models.meta import ModelMeta
from snnsec.neurons import LIF
from snnsec.utils.device import module_device


class SpikingModel(nn.Module):
    """Maps a batch ``[B, *input_shape]`` (pixels in [0, 1]) to time-averaged logits ``[B, classes]``.

    The encoder turns the batch into a sequence ``[T, B, ...]``; the body runs it (stateless layers
    time-folded, neurons looping over T); the output layer's logits are averaged over time, as in
    the paper's reference code. Peers such as torchattacks can drive the module as-is.

    Attributes:
        meta: :class:`ModelMeta` describing the architecture and its provenance.
        T: time steps of a forward pass (see :meth:`timesteps` for time extension).
        time_chunk: if set, the forward runs the sequence in chunks of this many steps, carrying
            the neuron state, so activation memory stays flat in T (no-grad and RGA paths).
    """

    def __init__(self, encoder: Encoder, body: SpikingSequential, meta: ModelMeta) -> None:
        super().__init__()
        self.encoder = encoder
        self.body = body
        self.meta = meta
        self.T = int(meta.T)
        self.time_chunk: int | None = None

    # -- shapes -------------------------------------------------------------------------------
    def check_input(self, x: torch.Tensor) -> None:
        expected = tuple(self.meta.input_shape)
        if x.dim() != len(expected) + 1 or tuple(x.shape[1:]) != expected:
            want = ", ".join(str(v) for v in expected)
            raise InputError(f"expected input with shape [B, {want}], got {list(x.shape)}")

    # -- forward ------------------------------------------------------------------------------
    def run(self, seq: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Run the body on a sequence ``[T, B, ...]``; returns per-step logits and the state."""
        return self.body(seq, state)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        seq = self.encoder.encode(x, self.T)
        chunk = self.time_chunk
        if not chunk or chunk >= self.T:
            out, _ = self.run(seq)
            return out.mean(0)
        total: torch.Tensor | None = None
        state: State | None = None
        for t0 in range(0, self.T, chunk):
            out, state = self.run(seq[t0 : t0 + chunk], state)
            part = out.sum(0)
            total = part if total is None else total + part
        assert total is not None
        return total / self.T

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 256, seed: int | None = None) -> torch.Tensor:
        """Predicted classes ``[N]`` for ``x`` ``[N, *input_shape]``, in batches, without gradients,
        in eval mode (the previous mode is restored). ``seed`` fixes the global RNG for the call,
        so a Poisson encoder gives the same labels on every run."""
        if batch_size < 1:
            raise InputError(f"batch_size must be a positive number of samples, got {batch_size}")
        was_training = self.training
        self.eval()
        try:
            with torch.random.fork_rng(devices=[]):
                if seed is not None:
                    torch.manual_seed(seed)
                dev = module_device(self)
                out = [self(x[i : i + batch_size].to(dev)).argmax(1).cpu() for i in range(0, len(x), batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(out) if out else torch.empty(0, dtype=torch.long)

    # -- helpers ------------------------------------------------------------------------------
    def neurons(self) -> list[LIF]:
        """All spiking neuron layers, in forward order."""
        return [m for m in self.modules() if isinstance(m, LIF)]

    @contextlib.contextmanager
    def timesteps(self, T: int) -> Iterator["SpikingModel"]:
        """Temporarily run with ``T`` steps (time extension, paper §4.5); restored on exit."""
        if T < 1:
            raise InputError(f"T must be a positive number of time steps, got {T}")
        old = self.T
        self.T = int(T)
        try:
            yield self
        finally:
            self.T = old

    @contextlib.contextmanager
    def chunked(self, chunk: int | None) -> Iterator["SpikingModel"]:
        """Temporarily run the forward in time chunks of ``chunk`` steps."""
        old = self.time_chunk
        self.time_chunk = chunk
        try:
            yield self
        finally:
            self.time_chunk = old
