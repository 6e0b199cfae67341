"""Build a :class:`SpikingModel` from an architecture name or from its metadata."""

from __future__ import annotations

from collections.abc import Sequence

from snnsec.encoders import ENCODERS
from snnsec.errors import InputError, unknown_choice
from snnsec.models.base import SpikingModel
from snnsec.models.meta import ModelMeta
from snnsec.models.registry import get_model_entry
from snnsec.neurons import NeuronParameters


def build_model(
    arch: str,
    num_classes: int = 10,
    input_shape: Sequence[int] | None = None,
    T: int = 4,
    neuron: NeuronParameters = NeuronParameters(),
    encoder: str = "direct",
    width: float = 1.0,
    normalization: dict[str, list[float]] | None = None,
    **meta_fields: object,
) -> SpikingModel:
    """Build an untrained :class:`SpikingModel`.

    Args:
        arch: ``vgg5``, ``vgg11``, ``resnet17`` or ``vggdvs``.
        num_classes: output classes.
        input_shape: one sample, ``[C, H, W]`` (``[T, C, H, W]`` for the ``frames`` encoder);
            defaults to the architecture's paper setting.
        T: time steps; neuron: leak, threshold, reset and surrogate; encoder: ``direct``,
            ``poisson`` or ``frames``; width: channel multiplier.
        normalization: ``{"mean", "std"}`` used by the direct encoder.
        meta_fields: further :class:`ModelMeta` fields (dataset, class_names, recipe, ...).

    Example::

        >>> model = build_model("vgg5", num_classes=10, input_shape=(1, 28, 28), T=4)
        >>> logits = model(torch.rand(2, 1, 28, 28))   # [2, 10]
    """
    entry = get_model_entry(arch)
    if num_classes < 2:
        raise InputError(f"num_classes must be at least 2, got {num_classes}")
    if T < 1:
        raise InputError(f"T must be a positive number of time steps, got {T}")
    if width <= 0:
        raise InputError(f"width must be positive, got {width}")
    shape = list(input_shape if input_shape is not None else entry.input_shape)
    if encoder not in ENCODERS:
        raise unknown_choice("encoder", encoder, ENCODERS)
    ENCODERS[encoder].check_input_shape(shape, T)
    neuron = neuron.validated()
    meta = ModelMeta(
        arch=arch,
        num_classes=num_classes,
        input_shape=shape,
        T=T,
        neuron=neuron._asdict(),
        encoder=encoder,
        width=width,
        normalization=normalization,
        **meta_fields,  # type: ignore[arg-type]
    )
    return model_from_meta(meta)


def model_from_meta(meta: ModelMeta) -> SpikingModel:
    """Rebuild the (untrained) module that ``meta`` describes."""
    entry = get_model_entry(meta.arch)
    if meta.encoder not in ENCODERS:
        raise unknown_choice("encoder", meta.encoder, ENCODERS)
    enc = ENCODERS[meta.encoder].from_meta(meta)
    body = entry.build(meta)
    model = SpikingModel(enc, body, meta)
    from snnsec.models.ann import apply_ann_record

    apply_ann_record(model, meta.recipe)  # a quantised-ANN twin (`snnsec train --ann`)
    return model
