r"""STBP gradients: backpropagation through time and the surrogate spike derivative (paper §3.2).

The model runs its ordinary T-step forward and autograd unrolls it, as in training. For a neuron
:math:`j` feeding neuron :math:`i`, Eq. (7):

.. math::
    \frac{\partial\mathcal{L}}{\partial s_j(t)} =
      \frac{\partial\mathcal{L}}{\partial s_i(t)}\frac{\partial s_i(t)}{\partial u_i(t)}
      \frac{\partial u_i(t)}{\partial s_j(t)} +
      \frac{\partial\mathcal{L}}{\partial s_j(t+1)}\frac{\partial s_j(t+1)}{\partial u_j(t+1)}
      \frac{\partial u_j(t+1)}{\partial u_j(t)}\frac{\partial u_j(t)}{\partial s_j(t)},

where :math:`\partial s/\partial u` is the model's own surrogate (the triangle
:math:`(1/\gamma^2)\max(0, \gamma - |u - \theta|)` by default, see
:class:`~snnsec.neurons.NeuronParameters`) and the reset path is differentiated too, as in the
reference code. Memory grows with T: every step's membrane potential is kept for the backward.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from snnsec.attacks.gradients.base import GradientEstimator, register_gradient
from snnsec.models.base import SpikingModel


@register_gradient
@dataclass
class STBP(GradientEstimator):
    """Surrogate-gradient BPTT through the plain forward (the paper's baseline attack)."""

    name = "stbp"
    summary = "backpropagation through time with the surrogate spike derivative (paper §3.2)"

    def logits(self, model: SpikingModel, x: torch.Tensor) -> torch.Tensor:
        return model(x)
