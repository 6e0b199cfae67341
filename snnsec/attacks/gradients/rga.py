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

from dataclasses import dataclass, field

import torch
from torch import nn

from snnsec.attacks.gradients.base import GradientEstimator, overriding, register_gradient
from snnsec.errors import InputError, SnnsecError
from snnsec.models.base import SpikingModel
from snnsec.models.containers import ResidualBlock, SpikingSequential
from snnsec.neurons import LIF, NeuronModel, NeuronState, RateRecorder, count_dtype

# Stateless layers that are affine and act on each time step alone (eval mode), hence commute
# with the time average. Anything else would make the rate-domain pass differ from the naive one.
TIME_LINEAR = (
    nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d,
    nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool2d, nn.Flatten, nn.Identity,
    nn.Dropout, SpikingSequential, ResidualBlock, LIF,
)


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
        return grad * NeuronModel.slope_of(region, ctx.slopes, grad.dtype).view_as(grad), None, None, None, None


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

    beta: float = field(default=2.0, metadata={"help": "RGA relaxation beta >= 1: the slope is non-zero on [0, beta*theta]"})
    gamma: float = field(default=0.2, metadata={"help": "RGA slope gamma on [0, (1-lambda)*theta] for leaky neurons"})
    time_chunk: int | None = field(default=2, metadata={"help": "RGA: steps per chunk of its recording forward (memory flat in T)"})

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
        recorder = RateRecorder(currents=False, count_dtype=count_dtype(model.T))
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
            region = layer.neuron.rga_region(current.detach(), self.beta)
            z = _ReplayRate.apply(current, count, steps, region, layer.neuron.rga_slopes(self.beta, self.gamma))
            return z, NeuronState(current.new_zeros(0))  # no state: one step

        with overriding(model, replay):
            out, _ = model.run(model.encoder.encode_mean(x))
        rate_logits = out[0]
        # value: the true time-averaged logits; graph: the rate-domain backward
        return logits + (rate_logits - rate_logits.detach())
