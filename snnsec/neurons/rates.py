"""Neuron overrides and rate recording: how analyses and gradient estimators look inside a model.

:func:`overriding` swaps every neuron layer's forward for the duration of a context (and always
restores it); :class:`RateRecorder` uses it to record each layer's spike counts and mean input
current without keeping the time history. Both work on any module that contains
:class:`~snnsec.neurons.module.LIF` layers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from snnsec.errors import SnnsecError
from snnsec.neurons.functional import NeuronState
from snnsec.neurons.module import LIF, NeuronOverride


def neuron_layers(module: nn.Module) -> list[LIF]:
    """All spiking neuron layers of ``module``, in forward order."""
    return [m for m in module.modules() if isinstance(m, LIF)]


@contextlib.contextmanager
def overriding(module: nn.Module, override: NeuronOverride | None) -> Iterator[nn.Module]:
    """Install ``override`` on every neuron layer of ``module``; restore the previous ones on exit."""
    neurons = neuron_layers(module)
    old = [n.override for n in neurons]
    try:
        for n in neurons:
            n.override = override
        yield module
    finally:
        for n, o in zip(neurons, old):
            n.override = o


@dataclass
class LayerRates:
    """Time sums of one neuron layer's spikes (and, optionally, input current); ``[B, ...]`` each."""

    spike_count: torch.Tensor
    current_sum: torch.Tensor | None
    steps: int

    @property
    def rate(self) -> torch.Tensor:
        """:math:`r = \\frac1T \\sum_t s(t)`, Eq. (11)."""
        return self.spike_count.float() / self.steps

    @property
    def mean_current(self) -> torch.Tensor:
        """:math:`\\bar I = \\frac1T \\sum_t I(t)` (only when recorded with ``currents=True``)."""
        if self.current_sum is None:
            raise SnnsecError("this recording kept spike counts only; record with currents=True")
        return self.current_sum / self.steps


class RateRecorder:
    """Records :class:`LayerRates` of every neuron layer during a forward, without keeping time history.

    Args:
        currents: also sum the input currents (float, 4 bytes per neuron).
        count_dtype: dtype of the spike counters; ``torch.uint8`` (1 byte per neuron) holds up
            to 255 steps.

    Example::

        >>> rec = RateRecorder()
        >>> with torch.no_grad(), rec.recording(model):
        ...     logits = model(x)
        >>> [(layer, r.mean_current.shape, r.rate.mean()) for layer, r in rec.layers.items()]
    """

    def __init__(self, currents: bool = True, count_dtype: torch.dtype = torch.float32) -> None:
        self.currents = currents
        self.count_dtype = count_dtype
        self.layers: dict[LIF, LayerRates] = {}

    def _record(self, layer: LIF, x: torch.Tensor, state: NeuronState | None) -> tuple[torch.Tensor, NeuronState]:
        z, state = layer.integrate(x, state)
        count = z.sum(0).to(self.count_dtype)
        acc = self.layers.get(layer)
        if acc is None:
            self.layers[layer] = LayerRates(count, x.sum(0) if self.currents else None, x.shape[0])
        else:
            acc.spike_count.add_(count)
            if acc.current_sum is not None:
                acc.current_sum.add_(x.sum(0))
            acc.steps += x.shape[0]
        return z, state

    @contextlib.contextmanager
    def recording(self, module: nn.Module) -> Iterator["RateRecorder"]:
        with overriding(module, self._record):
            yield self


def count_dtype(steps: int) -> torch.dtype:
    """The smallest integer dtype that counts ``steps`` spikes."""
    return torch.uint8 if steps <= 255 else torch.int16 if steps <= 32767 else torch.int32
