"""Model metadata: everything needed to rebuild, evaluate, attack and deploy a trained model.

It is stored as plain JSON-compatible data next to the weights (see :mod:`snnsec.models.io`),
so a model file never needs pickled Python objects.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from snnsec.errors import InputError, unknown_option
from snnsec.models.layouts import LAYOUT_VERSION, upgrade_layout
from snnsec.neurons import NeuronParameters


@dataclass
class ModelMeta:
    """Architecture and provenance of a model.

    Attributes:
        arch: registry name (``vgg5``, ``vgg11``, ``resnet17``, ``vggdvs``).
        num_classes: number of output classes.
        input_shape: one sample as the model sees it: ``[C, H, W]``, or ``[T, C, H, W]`` for frames.
        T: simulation time steps.
        neuron: :class:`~snnsec.neurons.NeuronParameters` as a dict (leak, theta, reset, ...).
        encoder: ``direct``, ``poisson`` or ``frames``.
        width: channel width multiplier of the architecture.
        dataset: dataset the model was trained on.
        normalization: ``{"mean": [...], "std": [...]}`` applied by the direct encoder, or None.
        class_names: label names, index = class id.
        recipe: training recipe (optimizer, lr, epochs, batch size, seed, ...).
        test_accuracy: clean test accuracy measured after training (fraction), if known.
        snnsec_version: version that wrote the file.
        layout: version of the architectures' layer lists (:mod:`snnsec.models.layouts`); files
            without it are layout 1 and load with the layer lists they were trained with.
        layers: the layer list of an imported model (arch ``sequential``, see
            :mod:`snnsec.models.sequential`); None for registered architectures.
    """

    arch: str
    num_classes: int
    input_shape: list[int]
    T: int
    neuron: dict[str, Any] = field(default_factory=lambda: NeuronParameters()._asdict())
    encoder: str = "direct"
    width: float = 1.0
    dataset: str | None = None
    normalization: dict[str, list[float]] | None = None
    class_names: list[str] | None = None
    recipe: dict[str, Any] = field(default_factory=dict)
    test_accuracy: float | None = None
    snnsec_version: str = ""
    layout: int = LAYOUT_VERSION
    layers: list[dict[str, Any]] | None = None

    @property
    def neuron_params(self) -> NeuronParameters:
        return NeuronParameters(**self.neuron)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "ModelMeta":
        if not isinstance(data, dict):
            raise InputError(f"model metadata must be a mapping, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        data = upgrade_layout(data)
        unknown = sorted(set(data) - names)
        if unknown:
            raise unknown_option("model metadata", unknown[0], names)
        try:
            meta = cls(**data)
        except TypeError as exc:
            raise InputError(f"model metadata is incomplete: {exc}") from None
        meta.input_shape = [int(v) for v in meta.input_shape]
        NeuronParameters(**meta.neuron).validated()
        return meta
