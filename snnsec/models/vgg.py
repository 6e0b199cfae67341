"""VGG-style spiking networks: VGG-11 (paper §5), a small VGG-5, and the DVS variant.

Each convolution is ``Conv3x3 (no bias) -> BatchNorm2d -> LIF``; ``"A"`` is a 2x2 average pool.
The classifier is ``Flatten -> [Linear -> LIF] * len(hidden) -> Linear``.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from snnsec.models.containers import SpikingSequential
from snnsec.models.registry import flat_features, register_model, scaled
from snnsec.neurons import LIF, NeuronParameters

# Bu et al.'s VGG-11 for 32x32 inputs (see notes/paper-facts.md).
VGG11 = ([64, "A", 128, 256, "A", 512, 512, 512, "A", 512, 512], [4096, 4096])
# Small VGG for 1x28x28 digits (and 3x32x32): cheap to train on 2 CPU cores and to simulate in Lava.
VGG5 = ([16, "A", 32, "A", 64, "A"], [128])
# VGG variant for 2x48x48 event frames (paper: CIFAR10-DVS, T = 10).
VGGDVS = ([64, "A", 128, "A", 256, 256, "A", 512, 512, "A"], [])


def vgg(
    config: tuple[Sequence[int | str], Sequence[int]],
    input_shape: Sequence[int],
    num_classes: int,
    neuron: NeuronParameters,
    width: float = 1.0,
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
        layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), LIF(neuron)]
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


@register_model("vgg5", input_shape=(1, 28, 28))
def vgg5(input_shape, num_classes, neuron, width=1.0):  # type: ignore[no-untyped-def]
    return vgg(VGG5, input_shape, num_classes, neuron, width)


@register_model("vggdvs", input_shape=(10, 2, 48, 48))
def vggdvs(input_shape, num_classes, neuron, width=1.0):  # type: ignore[no-untyped-def]
    return vgg(VGGDVS, input_shape, num_classes, neuron, width)
