"""The paper's LIF/IF neuron family: parameters, a protocol class per neuron type, and layers.

A new neuron type is one file with a ``@register_neuron`` :class:`NeuronModel` subclass plus one
import line below; see :mod:`snnsec.neurons.base`.
"""

from snnsec._lava_compat import install as _install_import_patches

_install_import_patches()  # before Norse is imported: `import norse` then does not load pyplot (0.36 s)

from snnsec.neurons import hard_reset, soft_reset  # noqa: E402, F401  (registers the neuron types)
from snnsec.neurons.base import NEURONS, NeuronModel, neuron_model, register_neuron  # noqa: E402
from snnsec.neurons.functional import (  # noqa: E402
    SURROGATES,
    NeuronParameters,
    NeuronState,
    initial_state,
    neuron_step,
    spike,
)
from snnsec.neurons.module import LIF, NeuronOverride, SpikingModule  # noqa: E402
from snnsec.neurons.rates import LayerRates, RateRecorder, count_dtype, neuron_layers, overriding  # noqa: E402

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
