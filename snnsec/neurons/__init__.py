"""The paper's LIF/IF neuron: a pure step function plus a thin time-loop module."""

from snnsec.neurons.functional import (
    RESETS,
    SURROGATES,
    NeuronParameters,
    NeuronState,
    initial_state,
    neuron_step,
    spike,
)
from snnsec.neurons.module import LIF, NeuronOverride, SpikingModule

__all__ = [
    "LIF",
    "RESETS",
    "SURROGATES",
    "NeuronOverride",
    "NeuronParameters",
    "NeuronState",
    "SpikingModule",
    "initial_state",
    "neuron_step",
    "spike",
]
