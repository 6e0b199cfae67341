r"""ACT: attack the SNN through its quantised-ANN twin (the ``Act_attack`` mode of the HART code,
``hzc1208/HART_Attack``; the activation is QCFS, Bu et al., ICLR 2022, "Optimal ANN-SNN
Conversion for High-accuracy and Ultra-low-latency Spiking Neural Networks").

The gradient model is the same network run once (no time loop) on the encoder's time average,
with every spiking layer replaced by the clamp-and-round activation at the layer's threshold:

.. math::
    \operatorname{qcfs}(I) = \frac{\theta}{L}\Bigl\lfloor L\,\operatorname{clip}\bigl(\tfrac{I}{\theta}, 0, 1\bigr)
      + \tfrac12 \Bigr\rfloor, \qquad
    \frac{\partial \operatorname{qcfs}}{\partial I} = \mathbb 1[0 \le I \le \theta]
    \text{ (straight-through floor)},

with :math:`L = 8` levels as in the reference code. QCFS is the activation whose output an IF
neuron's firing rate approximates, so the twin is the ANN that the SNN would be converted from.
The logits' value stays the SNN's own (time-averaged) output; only the backward is the twin's.
Cost: one no-grad SNN forward plus one single-step ANN forward and backward.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from snnsec.attacks.gradients.base import GradientEstimator, overriding, register_gradient
from snnsec.errors import InputError
from snnsec.models.ann import qcfs  # one definition, shared with `snnsec train --ann`
from snnsec.models.base import SpikingModel
from snnsec.neurons import LIF, NeuronState


@register_gradient
@dataclass
class ACT(GradientEstimator):
    """Gradients of the quantised-ANN twin (QCFS activations), values of the SNN."""

    levels: int = field(default=8, metadata={"help": "act: quantisation levels L of the QCFS activation (reference: 8)"})
    shift: float = field(default=0.5, metadata={"help": "act: QCFS rounding shift, floor(L x + shift) (reference: 0.5)"})

    name = "act"
    summary = "ACT: gradients of the quantised-ANN twin, QCFS with L levels (HART code's Act_attack)"

    def __post_init__(self) -> None:
        if int(self.levels) != self.levels or self.levels < 1:
            raise InputError(f"act levels must be a positive integer, got {self.levels}")
        if not 0.0 <= self.shift <= 1.0:
            raise InputError(f"act shift must lie in [0, 1], got {self.shift}")

    def _layer(self, layer: LIF, x: torch.Tensor, state: NeuronState | None) -> tuple[torch.Tensor, NeuronState]:
        return qcfs(x, layer.p.theta, int(self.levels), self.shift), NeuronState(x.new_zeros(0))

    def logits(self, model: SpikingModel, x: torch.Tensor) -> torch.Tensor:
        model.check_input(x)
        with torch.no_grad():
            snn = model(x)
        with overriding(model, self._layer):
            out, _ = model.run(model.encoder.encode_mean(x))
        ann = out[0]
        # value: the SNN's logits; graph: the ANN twin's
        return snn + (ann - ann.detach())
