"""The paper's LIF/IF neuron family: parameters, a protocol class per neuron type, and layers.

A new neuron type is one file with a ``@register_neuron`` :class:`NeuronModel` subclass plus one
import line below; see :mod:`snnsec.neurons.base`.
"""

from snnsec.neurons import hard_reset, soft_reset  # noqa: F401  (registers the neuron types)
from snnsec.neurons.base import NEURONS, NeuronModel, neuron_model, register_neuron
from snnsec.neurons.functional import (
    SURROGATES,
    NeuronParameters,
    NeuronState,
    initial_state,
    neuron_step,
    spike,
)
from snnsec.neurons.module import LIF, NeuronOverride, SpikingModule
from snnsec.neurons.rates import LayerRates, RateRecorder, count_dtype, neuron_layers, overriding

__all__ = [
    "LIF",
    "NEURONS",
    "SURROGATES",
    "LayerRates",
    "NeuronModel",
    "NeuronOverride",
    "NeuronParameters",
    "NeuronState",
    "RateRecorder",
    "SpikingModule",
    "count_dtype",
    "initial_state",
    "neuron_layers",
    "neuron_model",
    "neuron_step",
    "overriding",
    "register_neuron",
    "spike",
]
