"""Spiking ResNet-17 (paper §5; architecture of Zheng et al., AAAI 2021, for 32x32 inputs).

Stem ``Conv3x3(64) -> BN -> LIF``, a 2x2 average pool, three basic blocks at 64 channels, four
at 128 (the first with stride 2), a 2x2 average pool, then ``FC 2048 -> 256 -> BN1d -> LIF -> FC``.
That is 1 + 7x2 convolutions + 2 linear layers = 17 weight layers. A basic block is
``LIF(BN(Conv(LIF(BN(Conv(x))))) + shortcut(x))``; the shortcut is the identity, or
``Conv1x1 -> BN`` where the shape changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from snnsec.models.containers import ResidualBlock, SpikingSequential
from snnsec.models.registry import flat_features, register_model, scaled
from snnsec.neurons import LIF, NeuronParameters


def basic_block(cin: int, cout: int, stride: int, neuron: NeuronParameters) -> ResidualBlock:
    main = SpikingSequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        LIF(neuron),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
    )
    if stride != 1 or cin != cout:
        shortcut = SpikingSequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
    else:
        shortcut = SpikingSequential()
    return ResidualBlock(main, shortcut, LIF(neuron))


@register_model("resnet17", input_shape=(3, 32, 32))
def resnet17(
    input_shape: Sequence[int], num_classes: int, neuron: NeuronParameters, width: float = 1.0
) -> SpikingSequential:
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
