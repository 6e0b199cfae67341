"""Spiking layers that run their neuron model's step (:mod:`snnsec.neurons.base`) over time.

Shapes follow SpikingJelly's multi-step convention: a layer receives the whole sequence
``[T, B, ...]``. Stateless layers (conv, linear, BN, pooling) run once on the time-folded
``[T*B, ...]`` view (see :class:`snnsec.models.containers.SpikingSequential`); only the neuron
loops over T.

Gradient estimators (``snnsec.attacks.gradients``) may replace a neuron's forward for the
duration of a context by setting :attr:`LIF.override`; see :class:`NeuronOverride`.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from snnsec.errors import InputError
from snnsec.neurons.base import NeuronModel, neuron_model
from snnsec.neurons.functional import NeuronParameters, NeuronState, initial_state
from snnsec.neurons import fused as _fused


class SpikingModule(nn.Module):
    """A module with explicit state: ``forward(x [T, B, ...], state) -> (y [T, B, ...], state)``."""


class NeuronOverride(Protocol):
    """A replacement neuron forward, installed by a gradient estimator inside a context."""

    def __call__(
        self, layer: "LIF", x: torch.Tensor, state: NeuronState | None
    ) -> tuple[torch.Tensor, NeuronState]: ...


class LIF(SpikingModule):
    """A layer of the paper's LIF neurons (IF when ``leak == 1``) over a time sequence.

    Args:
        p: neuron parameters (leak, threshold, neuron type ``reset``, STBP surrogate).

    Attributes:
        neuron: the :class:`~snnsec.neurons.base.NeuronModel` that ``p.reset`` names; every
            consumer (attacks, analyses, exporters, simulators, Lava) asks it.

    Shape:
        ``x``: input currents ``[T, B, ...]``; returns spikes of the same shape and the final
        :class:`NeuronState`. Pass that state back in to continue a sequence in time chunks.

    Example::

        >>> lif = LIF(NeuronParameters(leak=0.9, reset="soft"))
        >>> z, state = lif(torch.rand(8, 2, 16))
    """

    def __init__(self, p: NeuronParameters = NeuronParameters()) -> None:
        super().__init__()
        self.p = p

    @property
    def p(self) -> NeuronParameters:
        return self._p

    @p.setter
    def p(self, value: NeuronParameters) -> None:
        """Setting the parameters rebuilds :attr:`neuron`, so the two can never disagree."""
        self._p = value.validated()
        self.neuron: NeuronModel = neuron_model(self._p)
        self.override: NeuronOverride | None = None

    def extra_repr(self) -> str:
        p = self.p
        return f"leak={p.leak}, theta={p.theta}, reset={p.reset}, surrogate={p.surrogate}({p.gamma})"

    def forward(
        self, x: torch.Tensor, state: NeuronState | None = None
    ) -> tuple[torch.Tensor, NeuronState]:
        if x.dim() < 2:
            raise InputError(f"expected currents with shape [T, B, ...], got {tuple(x.shape)}")
        if self.override is not None:
            return self.override(self, x, state)
        return self.integrate(x, state)

    def integrate(
        self, x: torch.Tensor, state: NeuronState | None = None
    ) -> tuple[torch.Tensor, NeuronState]:
        """The plain dynamics (STBP: autograd through the surrogate and the reset path)."""
        if (fused := _fused.integrate(self, x, state)) is not None:  # training: one autograd node over T
            return fused
        if state is None:
            state = initial_state(x[0])
        spikes = []
        step = self.neuron.step
        for xt in x.unbind(0):  # not x[t]: each x[t]'s backward zero-fills a whole [T, B, ...] gradient
            z, state = step(xt, state)
            spikes.append(z)
        return torch.stack(spikes), state
