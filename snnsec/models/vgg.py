"""VGG-style spiking networks: the reference code's VGG family, its DVS variants, and a small VGG-5.

The layer lists are those of the paper's public reference code (Bu et al., CVPR 2023,
``models/VGG.py``), pinned by ``tests/core/test_architectures.py``:

- **vgg11 / vgg13 / vgg16 / vgg19** (3x32x32): each convolution is
  ``Conv3x3 (with bias) -> BatchNorm2d -> LIF``; ``"A"`` is a 2x2 average pool. The classifier is
  ``Flatten -> Linear -> LIF -> Linear(4096) -> LIF -> Linear(classes)`` (4096 hidden units).
- **vggdvs** (2x48x48 event frames, T = 10): eight convolutions
  ``64, 128, A, 256, 256, A, 512, 512, A, 512, 512, A``, then ``Flatten -> Linear(classes)``.
- **vgggesture** (2x48x48 frames): ``16, 32, A, 32, 32, A``, then ``Flatten -> Linear(classes)``.
- **cnndvs**: ``Conv5x5/2 (16) -> BN -> LIF -> A -> LIF -> Conv3x3 (32) -> BN -> LIF -> A -> LIF``,
  then ``Flatten -> Linear(512) -> LIF -> Linear(classes)``. The reference puts a neuron after
  each pool, so pooled spikes are re-spiked.
- **vgg5** (1x28x28) is snnsec's own small model for the demo (no conv bias), not the reference's.

Layout history (``ModelMeta.layout``, see :mod:`snnsec.models.layouts`): up to layout 1, snnsec's
vgg11 had no conv bias and its vggdvs had six convolutions (``64, A, 128, A, 256, 256, A, 512,
512, A``). Files of that layout load as ``vgg11-v1`` / ``vggdvs-v1``, registered below.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from snnsec.models.containers import SpikingSequential
from snnsec.models.registry import flat_features, register_model, scaled
from snnsec.neurons import LIF, NeuronParameters

Config = tuple[Sequence[int | str], Sequence[int]]

# Reference code, models/VGG.py (cfg), at 32x32: features, then the hidden classifier widths.
VGG11: Config = ([64, "A", 128, 256, "A", 512, 512, 512, "A", 512, 512], [4096, 4096])
VGG13: Config = ([64, 64, "A", 128, 128, "A", 256, 256, "A", 512, 512, "A", 512, 512, "A"], [4096, 4096])
VGG16: Config = ([64, 64, "A", 128, 128, "A", 256, 256, 256, "A", 512, 512, 512, "A", 512, 512, 512, "A"], [4096, 4096])
VGG19: Config = (
    [64, 64, "A", 128, 128, "A", 256, 256, 256, 256, "A", 512, 512, 512, 512, "A", 512, 512, 512, 512, "A"],
    [4096, 4096],
)
VGGDVS: Config = ([64, 128, "A", 256, 256, "A", 512, 512, "A", 512, 512, "A"], [])
VGGGESTURE: Config = ([16, 32, "A", 32, 32, "A"], [])
# Small VGG for 1x28x28 digits (and 3x32x32): cheap to train on 2 CPU cores and to simulate in Lava.
VGG5: Config = ([16, "A", 32, "A", 64, "A"], [128])

# Layout 1 (snnsec before the reference layouts); kept so old model files still load.
VGGDVS_V1: Config = ([64, "A", 128, "A", 256, 256, "A", 512, 512, "A"], [])


def vgg(
    config: Config,
    input_shape: Sequence[int],
    num_classes: int,
    neuron: NeuronParameters,
    width: float = 1.0,
    conv_bias: bool = True,
) -> SpikingSequential:
    """Build a spiking VGG body from ``(features, hidden)``."""
    features, hidden = config
    layers: list[nn.Module] = []
    channels = input_shape[-3]
    for item in features:
        if item == "A":
            layers.append(nn.AvgPool2d(2))
            continue
        out = scaled(int(item), width)
        layers += [nn.Conv2d(channels, out, 3, padding=1, bias=conv_bias), nn.BatchNorm2d(out), LIF(neuron)]
        channels = out
    layers.append(nn.Flatten())
    features_out = flat_features(layers, input_shape[-3:])
    for h in hidden:
        h = scaled(h, width)
        layers += [nn.Linear(features_out, h), LIF(neuron)]
        features_out = h
    layers.append(nn.Linear(features_out, num_classes))
    return SpikingSequential(*layers)


@register_model("vgg11", input_shape=(3, 32, 32))
def vgg11(input_shape, num_classes, neuron, width=1.0):  # type: ignore[no-untyped-def]
    return vgg(VGG11, input_shape, num_classes, neuron, width)


@register_model("vgg13", input_shape=(3, 32, 32))
def vgg13(input_shape, num_classes, neuron, width=1.0):  # type: ignore[no-untyped-def]
    return vgg(VGG13, input_shape, num_classes, neuron, width)


@register_model("vgg16", input_shape=(3, 32, 32))
def vgg16(input_shape, num_classes, neuron, width=1.0):  # type: ignore[no-untyped-def]
    return vgg(VGG16, input_shape, num_classes, neuron, width)


@register_model("vgg19", input_shape=(3, 32, 32))
def vgg19(input_shape, num_classes, neuron, width=1.0):  # type: ignore[no-untyped-def]
    return vgg(VGG19, input_shape, num_classes, neuron, width)


@register_model("vgg5", input_shape=(1, 28, 28))
def vgg5(input_shape, num_classes, neuron, width=1.0):  # type: ignore[no-untyped-def]
    return vgg(VGG5, input_shape, num_classes, neuron, width, conv_bias=False)


@register_model("vggdvs", input_shape=(10, 2, 48, 48))
def vggdvs(input_shape, num_classes, neuron, width=1.0):  # type: ignore[no-untyped-def]
    return vgg(VGGDVS, input_shape, num_classes, neuron, width)


@register_model("vgggesture", input_shape=(10, 2, 48, 48))
def vgggesture(input_shape, num_classes, neuron, width=1.0):  # type: ignore[no-untyped-def]
    return vgg(VGGGESTURE, input_shape, num_classes, neuron, width)


@register_model("cnndvs", input_shape=(10, 2, 48, 48))
def cnndvs(
    input_shape: Sequence[int], num_classes: int, neuron: NeuronParameters, width: float = 1.0
) -> SpikingSequential:
    c1, c2, hidden = scaled(16, width), scaled(32, width), scaled(512, width)
    layers: list[nn.Module] = [
        nn.Conv2d(input_shape[-3], c1, 5, stride=2, padding=1),
        nn.BatchNorm2d(c1),
        LIF(neuron),
        nn.AvgPool2d(2),
        LIF(neuron),
        nn.Conv2d(c1, c2, 3, padding=1),
        nn.BatchNorm2d(c2),
        LIF(neuron),
        nn.AvgPool2d(2),
        LIF(neuron),
        nn.Flatten(),
    ]
    features = flat_features(layers, input_shape[-3:])
    layers += [nn.Linear(features, hidden), LIF(neuron), nn.Linear(hidden, num_classes)]
    return SpikingSequential(*layers)


# -- layout 1 (old model files) ---------------------------------------------------------------


@register_model("vgg11-v1", input_shape=(3, 32, 32))
def vgg11_v1(input_shape, num_classes, neuron, width=1.0):  # type: ignore[no-untyped-def]
    """snnsec's vgg11 up to layout 1: the reference layer list without conv bias."""
    return vgg(VGG11, input_shape, num_classes, neuron, width, conv_bias=False)


@register_model("vggdvs-v1", input_shape=(10, 2, 48, 48))
def vggdvs_v1(input_shape, num_classes, neuron, width=1.0):  # type: ignore[no-untyped-def]
    """snnsec's vggdvs up to layout 1: six convolutions, no conv bias."""
    return vgg(VGGDVS_V1, input_shape, num_classes, neuron, width, conv_bias=False)
