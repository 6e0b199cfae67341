r"""RGA: the Rate Gradient Approximation, computed once in the rate domain (paper §4.2-4.3).

Well-trained SNNs are rate coded (§4.1), so RGA backpropagates through firing rates
:math:`r^l = \frac1T\sum_t s^l(t)` instead of spikes (Eq. 13-14):

.. math::
    \frac{\partial\mathcal{L}}{\partial r^0} = \frac{\partial\mathcal{L}}{\partial r^L}
      \prod_{l=1}^{L} \frac{\partial r^l}{\partial \bar I^l}\frac{\partial \bar I^l}{\partial r^{l-1}},
    \qquad \bar I^l = \frac1T\sum_t I^l(t),

where :math:`\partial \bar I^l/\partial r^{l-1}` is the (linear) layer between two neuron layers and
:math:`\partial r/\partial \bar I` is the slope of a relaxed static R-I curve, Eq. (19) (Eq. (15)
when :math:`\lambda = 1`), with threshold :math:`\theta` and leak :math:`\lambda` of each layer:

.. math::
    \frac{\partial r}{\partial \bar I} = \begin{cases}
      \gamma, & 0 \le \bar I \le (1-\lambda)\theta \\
      \frac{1-\gamma\theta+\gamma\theta\lambda}{(\beta+\lambda-1)\theta}, & (1-\lambda)\theta < \bar I \le \beta\theta\\
      0, & \text{otherwise.}\end{cases}

Defaults :math:`\beta = 2`, :math:`\gamma = 0.2`: IF gives 0.5 on [0, 2]; :math:`\lambda = 0.5`
gives 0.2 on [0, 0.5] and 0.6 on (0.5, 2]. Each point belongs to exactly one interval (the
reference code counts :math:`\bar I = (1-\lambda)\theta` in both); at :math:`\lambda = 1` the
first interval is empty and every :math:`\bar I \in [0, \beta\theta]` gets :math:`1/(\beta\theta)`.

**Rate domain.** The slope is constant over time, and the stateless layers (conv, linear,
eval-mode BN, average pooling) are affine and time-invariant, so they commute with the time
average: :math:`\bar I^l = W^l r^{l-1} + b^l`. The backward therefore runs once on time-averaged
quantities, batch B instead of T·B:

1. a no-grad T-step forward, run in time chunks so memory stays flat in T, counts each neuron's
   spikes (one byte per neuron for T ≤ 255) and keeps nothing else of the time history;
2. one pass on the encoder's time average (:meth:`~snnsec.encoders.Encoder.encode_mean`) through
   the same layers, where each neuron layer outputs its recorded rate :math:`r^l` and, backward,
   multiplies the gradient by :math:`\partial r/\partial \bar I` at the current it receives in
   this pass, which is :math:`W^l r^{l-1} + b^l = \bar I^l`.

This equals the naive per-step form (:mod:`~snnsec.attacks.gradients.rga_naive`) up to rounding,
at the cost of about one no-grad forward. With Poisson inputs the first layer's :math:`\bar I`
is the expectation :math:`W x + b` (the straight-through estimator of Eq. (20), which
:meth:`PoissonEncoder.encode_mean` implements as the identity) rather than the average of one
random draw; deeper layers see the recorded rates of the actual draw.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from snnsec.attacks.gradients.base import GradientEstimator, overriding, register_gradient
from snnsec.errors import InputError, SnnsecError
from snnsec.models.base import SpikingModel
from snnsec.models.containers import ResidualBlock, SpikingSequential
from snnsec.neurons import LIF, NeuronParameters, NeuronState

# Stateless layers that are affine and act on each time step alone (eval mode), hence commute
# with the time average. Anything else would make the rate-domain pass differ from the naive one.
TIME_LINEAR = (
    nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d,
    nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool2d, nn.Flatten, nn.Identity,
    nn.Dropout, SpikingSequential, ResidualBlock, LIF,
)


def rga_slopes(p: NeuronParameters, beta: float = 2.0, gamma: float = 0.2) -> tuple[float, float]:
    r"""The two non-zero slopes of Eq. (19): :math:`\gamma` and :math:`\frac{1-\gamma\theta+\gamma\theta\lambda}{(\beta+\lambda-1)\theta}`."""
    theta, leak = p.theta, p.leak
    return gamma, (1.0 - gamma * theta + gamma * theta * leak) / ((beta + leak - 1.0) * theta)


def rga_region(current: torch.Tensor, p: NeuronParameters, beta: float = 2.0) -> torch.Tensor:
    r"""Which interval of Eq. (19) each :math:`\bar I` falls in, as ``uint8``.

    0: outside :math:`[0, \beta\theta]`; 1: :math:`[0, (1-\lambda)\theta]` (empty for IF);
    2: :math:`((1-\lambda)\theta, \beta\theta]`. Every point is in exactly one interval.
    """
    knee = (1.0 - p.leak) * p.theta
    region = ((current >= 0) & (current <= beta * p.theta)).to(torch.uint8) * 2
    if knee > 0:
        region.sub_(((current >= 0) & (current <= knee)).to(torch.uint8))
    return region


def rga_slope(current: torch.Tensor, p: NeuronParameters, beta: float = 2.0, gamma: float = 0.2) -> torch.Tensor:
    r""":math:`\partial r/\partial \bar I` of Eq. (19) (Eq. (15) for IF), elementwise on ``current``."""
    return _slope_of(rga_region(current, p, beta), rga_slopes(p, beta, gamma), current.dtype)


def _slope_of(region: torch.Tensor, slopes: tuple[float, float], dtype: torch.dtype) -> torch.Tensor:
    out = torch.zeros(region.shape, dtype=dtype, device=region.device)
    out.masked_fill_(region == 1, slopes[0])
    return out.masked_fill_(region == 2, slopes[1])


def rga_rate(current: torch.Tensor, p: NeuronParameters, beta: float = 2.0, gamma: float = 0.2) -> torch.Tensor:
    """The relaxed R-I curve whose slope is :func:`rga_slope`: 0 below 0, 1 above beta*theta."""
    knee = (1.0 - p.leak) * p.theta
    gamma, slope = rga_slopes(p, beta, gamma)
    first = gamma * current.clamp(0.0, knee)
    second = slope * (current.clamp(knee, beta * p.theta) - knee)
    return torch.where(current <= 0, torch.zeros_like(current), first + second)


def static_rate(current: torch.Tensor, p: NeuronParameters) -> torch.Tensor:
    r"""The static R-I curve of Eq. (18): the rate under a constant input current.

    :math:`r = \lceil \log_\lambda \frac{I + \theta(\lambda-1)}{I} \rceil^{-1}` for
    :math:`I > (1-\lambda)\theta` (0 below); for IF (:math:`\lambda = 1`) its limit
    :math:`\lceil \theta / I \rceil^{-1}`. Capped at one spike per step.
    """
    i = current.double()
    if p.leak == 1.0:
        steps = torch.ceil(p.theta / i.clamp_min(1e-12))
        valid = i > 0
    else:
        ratio = (i + p.theta * (p.leak - 1.0)) / i.clamp_min(1e-12)
        valid = i > (1.0 - p.leak) * p.theta
        steps = torch.ceil(torch.log(ratio.clamp_min(1e-300)) / math.log(p.leak))
    rate = torch.where(valid, 1.0 / steps.clamp_min(1.0), torch.zeros_like(i))
    return rate.to(current.dtype)


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
    def recording(self, model: SpikingModel) -> Iterator["RateRecorder"]:
        with overriding(model, self._record):
            yield self


def _count_dtype(steps: int) -> torch.dtype:
    return torch.uint8 if steps <= 255 else torch.int16 if steps <= 32767 else torch.int32


class _ReplayRate(torch.autograd.Function):
    """Forward: the recorded rate ``count / T``. Backward: ``grad * dr/dI``.

    Only the interval index of each neuron (``uint8``) is saved for the backward.
    """

    @staticmethod
    def forward(ctx, current: torch.Tensor, count: torch.Tensor, steps: int, region: torch.Tensor,  # type: ignore[override]
                slopes: tuple[float, float]) -> torch.Tensor:
        ctx.save_for_backward(region)
        ctx.slopes = slopes
        return (count.to(current.dtype) / steps).view_as(current)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        (region,) = ctx.saved_tensors
        return grad * _slope_of(region, ctx.slopes, grad.dtype).view_as(grad), None, None, None, None


def check_time_linear(model: SpikingModel) -> None:
    """Raise if a stateless layer of ``model`` does not commute with the time average."""
    for name, module in model.body.named_modules():
        if not isinstance(module, TIME_LINEAR) or (isinstance(module, nn.Dropout) and module.training):
            raise InputError(
                f"RGA's rate-domain backward needs linear, time-invariant stateless layers; "
                f"found {type(module).__name__} at body.{name}; use the rga-naive gradient instead"
            )


@register_gradient
@dataclass
class RGA(GradientEstimator):
    """Rate gradient approximation with a rate-domain backward (cost ~ one no-grad forward).

    Args:
        beta: relaxation :math:`\\beta \\ge 1`: the slope is non-zero on :math:`[0, \\beta\\theta]`.
        gamma: slope :math:`\\gamma` on :math:`[0, (1-\\lambda)\\theta]` for leaky neurons.
        time_chunk: steps per chunk of the recording forward (``None``: the model's setting).
            Small chunks keep memory flat in T at little cost in time.

    Example::

        >>> rga = RGA(beta=2.0, gamma=0.2)
        >>> with rga.applied(model):
        ...     g = rga.gradient(model, x, y, cross_entropy)   # shaped like x
    """

    beta: float = 2.0
    gamma: float = 0.2
    time_chunk: int | None = 2

    name = "rga"
    summary = "rate gradient approximation, one rate-domain backward (paper §4.2-4.3, Eq. 15/19)"

    def __post_init__(self) -> None:
        if not self.beta >= 1.0:
            raise InputError(f"RGA beta must be at least 1, got {self.beta}")
        if not self.gamma >= 0.0:
            raise InputError(f"RGA gamma must be non-negative, got {self.gamma}")
        if self.time_chunk is not None and self.time_chunk < 1:
            raise InputError(f"RGA time_chunk must be a positive number of steps, got {self.time_chunk}")

    def logits(self, model: SpikingModel, x: torch.Tensor) -> torch.Tensor:
        check_time_linear(model)
        model.check_input(x)
        recorder = RateRecorder(currents=False, count_dtype=_count_dtype(model.T))
        chunk = self.time_chunk if self.time_chunk is not None else model.time_chunk
        with torch.no_grad(), recorder.recording(model), model.chunked(chunk):
            logits = model(x)
        counts = {layer: (acc.spike_count, acc.steps) for layer, acc in recorder.layers.items()}
        del recorder

        def replay(layer: LIF, current: torch.Tensor, state: NeuronState | None) -> tuple[torch.Tensor, NeuronState]:
            if layer not in counts or current.shape[1:] != counts[layer][0].shape:
                raise SnnsecError(f"RGA: neuron layer {layer} saw a different input in the rate-domain pass")
            count, steps = counts.pop(layer)
            # the current reaching a layer in this pass is its time-averaged input current
            region = rga_region(current.detach(), layer.p, self.beta)
            z = _ReplayRate.apply(current, count, steps, region, rga_slopes(layer.p, self.beta, self.gamma))
            return z, NeuronState(current.new_zeros(0))  # no state: one step

        with overriding(model, replay):
            out, _ = model.run(model.encoder.encode_mean(x))
        rate_logits = out[0]
        # value: the true time-averaged logits; graph: the rate-domain backward
        return logits + (rate_logits - rate_logits.detach())
