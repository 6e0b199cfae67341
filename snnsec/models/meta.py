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
    def from_dict(cls, data: Any, source: str = "model metadata") -> "ModelMeta":
        """Metadata read from a file, checked against the model-file schema
        (:func:`snnsec.utils.schema.check_model_meta`) before anything is built from it."""
        from snnsec.encoders import ENCODERS
        from snnsec.models.registry import GRAPH_ARCHS, MODELS
        from snnsec.utils.schema import check_model_meta

        if not isinstance(data, dict):
            raise InputError(f"{source}: meta is a {type(data).__name__}; expected a mapping of model metadata")
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            data = upgrade_layout(data)
        except InputError as exc:
            raise InputError(f"{source}: meta.layout: {exc}") from None
        unknown = sorted(set(data) - names)
        if unknown:
            raise InputError(f"{source}: {unknown_option('model metadata', unknown[0], names)}")
        encoder = ENCODERS.get(data.get("encoder", "direct")) if isinstance(data.get("encoder", "direct"), str) else None
        check_model_meta(data, source, archs=set(MODELS) | set(GRAPH_ARCHS), encoders=ENCODERS,
                         step_shapes=encoder.step_shape if encoder is not None else None)
        try:
            ENCODERS[data.get("encoder", "direct")].check_input_shape(data["input_shape"], data["T"])
        except InputError as exc:
            raise InputError(f"{source}: meta.input_shape: {exc}") from None
        try:
            meta = cls(**data)
        except TypeError as exc:
            raise InputError(f"model metadata is incomplete: {exc}") from None
        meta.input_shape = [int(v) for v in meta.input_shape]
        meta.width = float(meta.width)
        try:
            NeuronParameters(**meta.neuron).validated()
        except InputError as exc:
            raise InputError(f"{source}: meta.neuron: {exc}") from None
        return meta
