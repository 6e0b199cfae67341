"""Spiking ResNet-17 and ResNet-19, layer for layer as in the paper's reference code.

Both follow the reference code's ``models/ResNet.py`` (pinned by
``tests/core/test_architectures.py``). Convolutions have no bias. A basic block is
``LIF(BN(Conv3x3(LIF(BN(Conv3x3(x))))) + shortcut(x))``; the first block of every stage has a
``Conv1x1 -> BN`` shortcut (even where the shape does not change), the others the identity.
After the stages: a 2x2 average pool, ``Flatten -> Linear(256) -> BatchNorm1d -> Linear(classes)``
with **no neuron** between the two linear layers.

- **resnet17** (3x32x32): stem ``Conv3x3(64) -> BN -> LIF`` (no pool), a stage of 3 blocks at 64
  channels with stride 2, a stage of 4 blocks at 128 channels with stride 2. That is
  1 + 7x2 convolutions + 2 linear layers = 17 weight layers.
- **resnet19** (3x32x32): stem at 128 channels, stages of 3 (128, stride 1), 3 (256, stride 2) and
  2 (512, stride 2) blocks: 1 + 8x2 + 2 = 19 weight layers.

Layout history (``ModelMeta.layout``): up to layout 1, snnsec's resnet17 pooled after the stem,
had an identity-shortcut first stage of stride 1 and a LIF between ``BatchNorm1d`` and the last
linear layer. Files of that layout load as ``resnet17-v1``, registered below.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from snnsec.models.containers import ResidualBlock, SpikingSequential
from snnsec.models.registry import flat_features, register_model, scaled
from snnsec.neurons import LIF, NeuronParameters


def basic_block(
    cin: int, cout: int, stride: int, neuron: NeuronParameters, conv_shortcut: bool | None = None
) -> ResidualBlock:
    """A basic block; ``conv_shortcut=None`` uses a 1x1 conv only where the shape changes."""
    main = SpikingSequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        LIF(neuron),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
    )
    if conv_shortcut is None:
        conv_shortcut = stride != 1 or cin != cout
    if conv_shortcut:
        shortcut = SpikingSequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
    else:
        shortcut = SpikingSequential()
    return ResidualBlock(main, shortcut, LIF(neuron))


def stage(cin: int, cout: int, blocks: int, stride: int, neuron: NeuronParameters) -> list[nn.Module]:
    """The reference's ``make_layer``: the first block always has a conv shortcut."""
    return [basic_block(cin, cout, stride, neuron, conv_shortcut=True)] + [
        basic_block(cout, cout, 1, neuron, conv_shortcut=False) for _ in range(blocks - 1)
    ]


def resnet(
    stem: int,
    stages: Sequence[tuple[int, int, int]],
    input_shape: Sequence[int],
    num_classes: int,
    neuron: NeuronParameters,
    width: float = 1.0,
) -> SpikingSequential:
    """Stem, ``stages`` of ``(channels, blocks, stride)``, pool, ``FC 256 -> BN1d -> FC``."""
    c = scaled(stem, width)
    layers: list[nn.Module] = [
        nn.Conv2d(input_shape[-3], c, 3, padding=1, bias=False),
        nn.BatchNorm2d(c),
        LIF(neuron),
    ]
    for channels, blocks, stride in stages:
        out = scaled(channels, width)
        layers += stage(c, out, blocks, stride, neuron)
        c = out
    layers += [nn.AvgPool2d(2), nn.Flatten()]
    features, hidden = flat_features(layers, input_shape[-3:]), scaled(256, width)
    layers += [nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.Linear(hidden, num_classes)]
    return SpikingSequential(*layers)


@register_model("resnet17", input_shape=(3, 32, 32))
def resnet17(
    input_shape: Sequence[int], num_classes: int, neuron: NeuronParameters, width: float = 1.0
) -> SpikingSequential:
    return resnet(64, [(64, 3, 2), (128, 4, 2)], input_shape, num_classes, neuron, width)


@register_model("resnet19", input_shape=(3, 32, 32))
def resnet19(
    input_shape: Sequence[int], num_classes: int, neuron: NeuronParameters, width: float = 1.0
) -> SpikingSequential:
    return resnet(128, [(128, 3, 1), (256, 3, 2), (512, 2, 2)], input_shape, num_classes, neuron, width)


@register_model("resnet17-v1", input_shape=(3, 32, 32))
def resnet17_v1(
    input_shape: Sequence[int], num_classes: int, neuron: NeuronParameters, width: float = 1.0
) -> SpikingSequential:
    """snnsec's resnet17 up to layout 1 (pool after the stem, LIF before the last linear layer)."""
    c1, c2, hidden = scaled(64, width), scaled(128, width), scaled(256, width)
    layers: list[nn.Module] = [
        nn.Conv2d(input_shape[-3], c1, 3, padding=1, bias=False),
        nn.BatchNorm2d(c1),
        LIF(neuron),
        nn.AvgPool2d(2),
    ]
    layers += [basic_block(c1, c1, 1, neuron) for _ in range(3)]
    layers += [basic_block(c1, c2, 2, neuron)] + [basic_block(c2, c2, 1, neuron) for _ in range(3)]
    layers += [nn.AvgPool2d(2), nn.Flatten()]
    features = flat_features(layers, input_shape[-3:])
    layers += [nn.Linear(features, hidden), nn.BatchNorm1d(hidden), LIF(neuron), nn.Linear(hidden, num_classes)]
    return SpikingSequential(*layers)
