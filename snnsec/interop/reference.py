"""Checkpoints of the paper's reference code (Bu et al., CVPR 2023) as snnsec models.

The reference code saves ``torch.save(model.state_dict(), "<arch>_T[8]_tau[1.00].pth")`` (sometimes
with DataParallel's ``module.`` prefix). Its key layout follows its module names:

- VGG family: ``layer<k>.<i>.{weight,bias}`` for a convolution (it has a bias) and
  ``layer<k>.<i+1>.{weight,bias,running_mean,running_var,num_batches_tracked}`` for its BatchNorm,
  stage by stage as in its ``cfg`` table; ``classifier.{1,3,5}`` (CIFAR VGGs) or ``classifier.0``
  (DVS VGGs) for the linear layers;
- cnndvs: ``layer.{0,1,5,6}`` and ``classifier.{1,3}``;
- ResNets: ``pre_conv.fwd.{0,1}``, ``layer<k>.<b>.conv1.fwd.{0,1}``, ``...conv2.fwd.{0,1}``,
  ``...right.fwd.{0,1}`` (first block of a stage), ``fc1.{0,1}``, ``fc2``.

Its other conventions become snnsec metadata: ``tau`` is the leak λ of a hard-reset neuron with
θ = 1 that fires on ``u ≥ θ`` (snnsec's neuron, exactly); ``T`` the time steps; the direct encoder
normalises with the reference's constants (:data:`REFERENCE_NORMALIZATION`; CIFAR-10's std is
0.2023/0.1994/0.2010, not snnsec's 0.2470/...); Poisson and DVS models see pixels or frames as
they are. The mapping is one-to-one on tensors, so the imported model computes the same
operations in the same order, and its logits equal the reference model's bit for bit on the same
input (``tests/interop/test_reference_import.py``).

Channel widths are read from the tensors (a narrower model in the same key layout imports too).
Loading uses ``torch.load(weights_only=True)``: a checkpoint that holds anything but tensors and
plain containers is refused and nothing in it runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from snnsec.encoders import ENCODERS
from snnsec.errors import InputError, unknown_choice
from snnsec.models import SpikingModel, build_model
from snnsec.models.containers import ResidualBlock
from snnsec.neurons import NeuronParameters
from snnsec.utils.io import safe_torch_load

REFERENCE_NORMALIZATION: dict[str, dict[str, list[float]]] = {
    "cifar10": {"mean": [0.4914, 0.4822, 0.4465], "std": [0.2023, 0.1994, 0.2010]},
    "cifar100": {"mean": [0.5071, 0.4867, 0.4408], "std": [0.2675, 0.2565, 0.2761]},
    "svhn": {"mean": [0.4376821, 0.4437697, 0.47280442], "std": [0.19803012, 0.20101562, 0.19703614]},
}
"""The reference code's ``data_loaders.py`` constants, applied by its models' TensorNormalization."""

# The reference cfg tables, stage by stage (models/VGG.py).
_VGG_STAGES: dict[str, list[list[int | str]]] = {
    "vgg11": [[64, "A"], [128, 256, "A"], [512, 512, 512, "A"], [512, 512], []],
    "vgg13": [[64, 64, "A"], [128, 128, "A"], [256, 256, "A"], [512, 512, "A"], [512, 512, "A"]],
    "vgg16": [[64, 64, "A"], [128, 128, "A"], [256, 256, 256, "A"], [512, 512, 512, "A"], [512, 512, 512, "A"]],
    "vgg19": [[64, 64, "A"], [128, 128, "A"], [256, 256, 256, 256, "A"], [512, 512, 512, 512, "A"],
              [512, 512, 512, 512, "A"]],
    "vggdvs": [[64, 128, "A"], [256, 256, "A"], [512, 512, "A"], [512, 512, "A"]],
    "vgggesture": [[16, 32, "A"], [32, 32, "A"]],
}
_RESNET_STAGES = {"resnet17": [3, 4], "resnet19": [3, 3, 2]}
_DVS_ARCHS = ("vggdvs", "vgggesture", "cnndvs")
_BASE_CHANNELS = {"resnet19": 128, "vgggesture": 16, "cnndvs": 16}  # first conv's width at width 1


@dataclass(frozen=True)
class _Slot:
    """One reference module with tensors: its key prefix and what it is."""

    prefix: str
    kind: str  # conv | bn | linear


def reference_slots(arch: str) -> list[_Slot]:
    """The reference modules holding tensors, in forward order (= snnsec's module order)."""
    slots: list[_Slot] = []
    if arch in _VGG_STAGES:
        for k, stage in enumerate(_VGG_STAGES[arch], start=1):
            i = 0
            for item in stage:
                if item == "A":
                    i += 1
                else:
                    slots += [_Slot(f"layer{k}.{i}", "conv"), _Slot(f"layer{k}.{i + 1}", "bn")]
                    i += 3
        if arch in _DVS_ARCHS:
            slots.append(_Slot("classifier.0", "linear"))
        else:
            slots += [_Slot(f"classifier.{i}", "linear") for i in (1, 3, 5)]
    elif arch == "cnndvs":
        slots = [_Slot("layer.0", "conv"), _Slot("layer.1", "bn"), _Slot("layer.5", "conv"), _Slot("layer.6", "bn"),
                 _Slot("classifier.1", "linear"), _Slot("classifier.3", "linear")]
    elif arch in _RESNET_STAGES:
        slots = [_Slot("pre_conv.fwd.0", "conv"), _Slot("pre_conv.fwd.1", "bn")]
        for k, blocks in enumerate(_RESNET_STAGES[arch], start=1):
            for b in range(blocks):
                for part in ("conv1", "conv2") + (("right",) if b == 0 else ()):
                    slots += [_Slot(f"layer{k}.{b}.{part}.fwd.0", "conv"), _Slot(f"layer{k}.{b}.{part}.fwd.1", "bn")]
        slots += [_Slot("fc1.0", "linear"), _Slot("fc1.1", "bn"), _Slot("fc2", "linear")]
    else:
        raise unknown_choice("reference architecture", arch, sorted([*_VGG_STAGES, "cnndvs", *_RESNET_STAGES]))
    return slots


REFERENCE_ARCHS = tuple(sorted([*_VGG_STAGES, "cnndvs", *_RESNET_STAGES]))


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """A reference checkpoint as ``{key: tensor}`` (weights-only unpickler, ``module.`` stripped)."""
    obj = safe_torch_load(path, "reference checkpoint", hint="a state_dict saved by the paper's code (*.pth)")
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        raise InputError(f"{path}: expected a state_dict (a mapping of names to tensors), got {type(obj).__name__}")
    out: dict[str, torch.Tensor] = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise InputError(f"{path}: entry {key!r} is {type(value).__name__}, expected a tensor")
        out[key[len("module."):] if key.startswith("module.") else key] = value
    return out


def _snnsec_slots(model: SpikingModel) -> list[tuple[str, nn.Module]]:
    """snnsec's modules holding tensors, in forward order (residual: main, shortcut)."""
    out: list[tuple[str, nn.Module]] = []

    def walk(module: nn.Module, prefix: str) -> None:
        for name, child in module.named_children():
            path = f"{prefix}{name}"
            if isinstance(child, ResidualBlock):
                walk(child.main, f"{path}.main.")
                walk(child.shortcut, f"{path}.shortcut.")
            elif isinstance(child, (nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d)):
                out.append((path, child))
            else:
                walk(child, f"{path}.")

    walk(model.body, "body.")
    return out


def _kind(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, nn.Linear):
        return "linear"
    return "bn"


def infer_shape(arch: str, sd: Mapping[str, torch.Tensor]) -> tuple[int, float, int]:
    """(num_classes, width, input channels) read from the tensors of a reference state_dict."""
    slots = reference_slots(arch)
    first, last = f"{slots[0].prefix}.weight", f"{slots[-1].prefix}.weight"
    for key in (first, last):
        if key not in sd:
            sample = ", ".join(sorted(sd)[:4])
            raise InputError(f"not a reference {arch} state_dict: key {key!r} missing (found keys like {sample})")
    w0 = sd[first]
    if w0.dim() != 4:
        raise InputError(f"{first}: expected a conv weight [out, in, kh, kw], got shape {list(w0.shape)}")
    base = _BASE_CHANNELS.get(arch, 64)
    return int(sd[last].shape[0]), w0.shape[0] / base, int(w0.shape[1])


def import_reference(
    source: str | os.PathLike[str] | Mapping[str, torch.Tensor],
    arch: str,
    T: int = 8,
    tau: float = 1.0,
    dataset: str | None = "cifar10",
    encoder: str = "direct",
    input_shape: list[int] | None = None,
    normalization: dict[str, list[float]] | None = None,
) -> SpikingModel:
    """Build the snnsec model that computes what the reference checkpoint ``source`` computes.

    Args:
        source: the checkpoint file, or its state_dict.
        arch: the reference architecture (``vgg11``, ``vgg13``, ``vgg16``, ``vgg19``, ``vggdvs``,
            ``vgggesture``, ``cnndvs``, ``resnet17``, ``resnet19``).
        T: its simulation steps (reference ``-T``); tau: its leak λ (reference ``-tau``).
        dataset: selects the reference's normalisation constants (cifar10, cifar100, svhn) and is
            recorded in the metadata; DVS datasets are not normalised.
        encoder: ``direct`` (the reference's "constant") or ``poisson`` (no normalisation, as in
            the reference); DVS architectures use ``frames``.
        input_shape: one sample; default ``[3, 32, 32]``, or ``[T, 2, 48, 48]`` for DVS.
        normalization: overrides the constants.

    Returns:
        An eval-mode :class:`SpikingModel` whose metadata records the source.
    """
    sd = dict(source) if isinstance(source, Mapping) else read_state_dict(source)
    origin = "state_dict" if isinstance(source, Mapping) else str(source)
    slots = reference_slots(arch)
    num_classes, width, channels = infer_shape(arch, sd)
    dvs = arch in _DVS_ARCHS
    if dvs:
        encoder = "frames"
        shape = list(input_shape) if input_shape is not None else [T, channels, 48, 48]
    else:
        image_encoders = [name for name, cls in ENCODERS.items() if cls.sample_ndim == 3]
        if encoder not in image_encoders:
            raise unknown_choice("encoder of a reference image model", encoder, image_encoders)
        shape = list(input_shape) if input_shape is not None else [channels, 32, 32]
    norm = normalization
    if norm is None and ENCODERS[encoder].normalises:
        if dataset not in REFERENCE_NORMALIZATION:
            raise InputError(
                f"no reference normalisation for dataset {dataset!r}; choose one of: "
                f"{', '.join(REFERENCE_NORMALIZATION)} (or pass the mean and std)"
            )
        norm = REFERENCE_NORMALIZATION[dataset]
    model = build_model(
        arch, num_classes=num_classes, input_shape=shape, T=T, neuron=NeuronParameters(leak=tau, theta=1.0, reset="hard"),
        encoder=encoder, width=width, normalization=norm, dataset=dataset,
        recipe={"imported_from": "reference", "source": origin, "reference_T": T, "reference_tau": tau},
    )
    ours = _snnsec_slots(model)
    if [k for _, k in [(m, _kind(m)) for _, m in ours]] != [s.kind for s in slots]:
        raise InputError(f"internal: snnsec's {arch} does not have the reference's layer kinds")  # pinned by tests
    used: set[str] = set()
    new_state: dict[str, torch.Tensor] = {}
    for (path, module), slot in zip(ours, slots):
        for name, tensor in module.state_dict().items():
            key = f"{slot.prefix}.{name}"
            if key not in sd:
                if name == "num_batches_tracked":
                    new_state[f"{path}.{name}"] = tensor
                    continue
                raise InputError(f"reference {arch} state_dict lacks {key!r} (for snnsec's {path}.{name})")
            value = sd[key]
            if value.shape != tensor.shape:
                raise InputError(
                    f"{key}: shape {list(value.shape)} does not fit snnsec's {path}.{name} {list(tensor.shape)} "
                    f"(arch {arch}, input {shape}, width {width:g})"
                )
            new_state[f"{path}.{name}"] = value.to(tensor.dtype)
            used.add(key)
    extra = sorted(set(sd) - used)
    if extra:
        raise InputError(f"reference {arch} state_dict has {len(extra)} keys snnsec's {arch} does not use, e.g. {extra[0]!r}")
    model.load_state_dict(new_state, strict=True)
    return model.eval()
