r"""The paper's spiking neuron as a pure step function (Bu et al., CVPR 2023, §3.1).

Discrete LIF dynamics, Eq. (3)-(6), with input current :math:`I(t)` already computed by the
preceding stateless layer:

.. math::
    u(t) &= \lambda\,u(t-1) + I(t)                      \qquad (3)\\
    s(t) &= H(u(t) - \theta), \quad H(x) = [x \ge 0]      \qquad (4)\\
    u(t) &\leftarrow u(t)\,(1 - s(t))                     \qquad \text{hard reset, (5)}\\
    u(t) &\leftarrow u(t) - \theta\,s(t)                  \qquad \text{soft reset, (6)}

:math:`\lambda = 1` is the integrate-and-fire (IF) neuron; then the step is exactly Norse's
``iaf_feed_forward_step`` (up to its strict ``>`` threshold, see :func:`spike`).

Built on Norse's functional primitives: its surrogate ``threshold``. The resets are Eq. (5) and
(6) as written (:mod:`snnsec.neurons.hard_reset`, :mod:`~snnsec.neurons.soft_reset`): the values of
Norse's ``reset_value`` / ``reset_subtract`` in half their elementwise passes. Following Norse,
parameters and state are NamedTuples and the state is returned, never hidden.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from norse.torch.functional.threshold import threshold

from snnsec.errors import InputError, unknown_choice

SURROGATES = ("triangle", "super", "tanh", "circ", "heavi_erfc")


class NeuronParameters(NamedTuple):
    """Parameters of the paper's LIF/IF neuron.

    Attributes:
        leak: membrane leak :math:`\\lambda \\in (0, 1]`; 1.0 is IF.
        theta: firing threshold :math:`\\theta > 0`.
        reset: the neuron type, a key of :data:`snnsec.neurons.NEURONS`: ``"hard"`` (to 0,
            Eq. 5) or ``"soft"`` (subtract :math:`\\theta`, Eq. 6), or any registered type.
        surrogate: Norse surrogate used by STBP for :math:`\\partial s/\\partial u`; the default
            ``"triangle"`` is the reference code's :math:`(1/\\gamma^2)\\max(0, \\gamma-|u-\\theta|)`.
        gamma: the surrogate's width :math:`\\gamma` for the triangle, the sharpness for
            ``super`` (:math:`1/(\\gamma|x|+1)^2`); for Norse's other surrogates it is passed on
            as their ``alpha``.
    """

    leak: float = 1.0
    theta: float = 1.0
    reset: str = "hard"
    surrogate: str = "triangle"
    gamma: float = 1.0

    def validated(self) -> "NeuronParameters":
        if not 0.0 < self.leak <= 1.0:
            raise InputError(f"leak lambda must lie in (0, 1], got {self.leak}")
        if not self.theta > 0.0:
            raise InputError(f"threshold theta must be positive, got {self.theta}")
        from snnsec.neurons.base import NEURONS  # the registry imports this module

        if self.reset not in NEURONS:
            raise unknown_choice("reset", self.reset, NEURONS)
        if self.surrogate not in SURROGATES:
            raise unknown_choice("surrogate", self.surrogate, SURROGATES)
        if not self.gamma > 0.0:
            raise InputError(f"surrogate width gamma must be positive, got {self.gamma}")
        return self


class NeuronState(NamedTuple):
    """State of a layer of neurons.

    Attributes:
        u: membrane potential after the reset of the last step, shaped like the input current.
    """

    u: torch.Tensor


def spike(x: torch.Tensor, p: NeuronParameters) -> torch.Tensor:
    """:math:`H(x)` with :math:`H(0) = 1` forward, Norse's surrogate backward; ``x = u - theta``.

    Norse's Heaviside fires on ``x > 0``; the paper fires when ``u`` *reaches* ``theta``. The
    ``x == 0`` term restores that (it carries no gradient, so the surrogate is unchanged).
    The triangle runs on ``x / gamma`` with Norse's ``alpha = 1``, which gives exactly
    :math:`\\partial s/\\partial u = (1/\\gamma^2)\\max(0, \\gamma - |x|)`.
    """
    if p.surrogate == "triangle":
        z = threshold(x / p.gamma, "triangle", 1.0)
    elif p.surrogate == "super":
        # Norse's SuperSpike ignores its alpha (backward 1/(|x|+1)^2); scale so that gamma is
        # SuperSpike's sharpness: d/dx = 1/(gamma*|x| + 1)^2, as Zenke & Ganguli (2018) define it.
        z = threshold(p.gamma * x, "super", p.gamma)
        z = z.detach() + (z - z.detach()) / p.gamma
    else:
        z = threshold(x, p.surrogate, p.gamma)
    return z + (x == 0).to(z.dtype)


def spike_slope(x: torch.Tensor, p: NeuronParameters) -> torch.Tensor:
    """:math:`\\partial\\,\\mathrm{spike}(x)/\\partial x` in closed form: what autograd takes through
    :func:`spike` (Norse's surrogate backward, under ``spike``'s scaling), bit for bit.

    The fused training loop needs this slope at every step of a layer; asking autograd for it
    reruns ``spike``'s forward and its graph (the demo's vgg5 training step is 1.3 to 1.5x faster
    with this: ``benchmarks/scale.py --only train --train-arch vgg5 --train-batch 64``). Each
    line is the expression Norse's backward evaluates, in the same order, with the incoming
    gradient 1 (``1 * v == v`` exactly), and ``spike``'s scaling applied as autograd applies
    it. A surrogate added to :func:`spike` needs its line here: ``tests/core/test_neurons.py``
    compares the two, bit for bit, for every surrogate in :data:`SURROGATES`.
    """
    g = p.gamma
    if p.surrogate == "triangle":  # Triangle(x / gamma, alpha = 1); then d(x / gamma)/dx
        # relu(1 - |x / g|) / g, in place on one new tensor: -a + 1 rounds as 1 - a does, and
        # x / 1 and s / 1 are exact, so gamma = 1 (the default) skips both divisions
        s = (x / g).abs_() if g != 1.0 else x.abs()
        s = s.neg_().add_(1).relu_()
        return s.div_(g) if g != 1.0 else s
    if p.surrogate == "super":  # d/dz of z.detach() + (z - z.detach()) / gamma; SuperSpike(gamma * x); d(gamma * x)/dx
        return torch.ones_like(x) / g / ((g * x).abs() + 1.0).pow(2) * g
    if p.surrogate == "tanh":  # HeaviTanh(x, k = gamma)
        return 1 - (x * g).tanh().pow(2)
    if p.surrogate == "circ":  # HeaviCirc(x, alpha = gamma)
        return (-(x.pow(2) / (2 * (g**2 + x.pow(2)).pow(1.5))) + 1 / (2 * (g**2 + x.pow(2)).sqrt())) * 2 * g
    if p.surrogate == "heavi_erfc":  # HeaviErfc(x, k = gamma)
        import numpy as np

        return (2 * torch.exp(-(g * x).pow(2))) / (torch.as_tensor(np.pi).sqrt())
    raise unknown_choice("surrogate", p.surrogate, SURROGATES)


def neuron_step(
    current: torch.Tensor, state: NeuronState, p: NeuronParameters
) -> tuple[torch.Tensor, NeuronState]:
    """One step of Eq. (3)-(6) for the neuron type ``p.reset``: spikes and the state after the reset."""
    from snnsec.neurons.base import neuron_model

    return neuron_model(p).step(current, state)


def initial_state(current: torch.Tensor) -> NeuronState:
    """Resting state (u = 0) shaped like one step of ``current``."""
    return NeuronState(torch.zeros_like(current))
