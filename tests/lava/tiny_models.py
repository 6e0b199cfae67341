"""Tiny models for the Lava and export tests (seconds to simulate, enough spikes to matter)."""

from __future__ import annotations

import torch
from torch import nn

from snnsec.models import build_model
from snnsec.models.base import SpikingModel
from snnsec.neurons import LIF, NeuronParameters


def tiny_vgg(encoder: str = "poisson", leak: float = 1.0, reset: str = "hard", T: int = 6, seed: int = 0,
             normalization: dict[str, list[float]] | None = None) -> SpikingModel:
    """vgg5 at width 1/8 on 1x8x8: conv2-A-conv4-A-conv8-A-FC16-FC3, random float weights."""
    torch.manual_seed(seed)
    model = build_model("vgg5", num_classes=3, input_shape=(1, 8, 8), T=T, width=0.125, encoder=encoder,
                        neuron=NeuronParameters(leak=leak, reset=reset), normalization=normalization)
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.weight.data = torch.randn(m.weight.shape, generator=gen) * (3.0 / m.weight[0].numel() ** 0.5)
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1, generator=gen)
            m.running_var.uniform_(0.5, 1.0, generator=gen)
            m.bias.data.uniform_(0.0, 0.3, generator=gen)
    return model.eval()


def on_grid(model: SpikingModel, K: int = 64, seed: int = 0) -> SpikingModel:
    """Put every weight on ``2 * m / K`` and every bias on ``k / K`` (BatchNorm made an exact
    identity plus a bias), so the model is exactly representable on Loihi's 8-bit grid and all
    float32 sums in torch are exact (dyadic numbers)."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.weight.data = 2 * torch.randint(-24, 25, m.weight.shape, generator=gen).float() / K
            if m.bias is not None:
                m.bias.data = torch.randint(-8, 9, m.bias.shape, generator=gen).float() / K
        if isinstance(m, nn.BatchNorm2d):
            m.eps = 0.0
            m.running_mean.zero_()
            m.running_var.fill_(1.0)
            m.weight.data.fill_(1.0)
            m.bias.data = torch.randint(-4, 9, m.bias.shape, generator=gen).float() / K
    return model.eval()


def tiny_resnet(encoder: str = "poisson", leak: float = 1.0, reset: str = "soft", T: int = 3, seed: int = 0) -> SpikingModel:
    """resnet17 at width 1/16 on 3x8x8 (every residual path kind: identity, pooled identity, 1x1 conv)."""
    torch.manual_seed(seed)
    model = build_model("resnet17", num_classes=4, input_shape=(3, 8, 8), T=T, width=0.0625, encoder=encoder,
                        neuron=NeuronParameters(leak=leak, reset=reset))
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.2, 0.2, generator=gen)
            m.running_var.uniform_(0.2, 0.5, generator=gen)
            m.weight.data.uniform_(0.8, 1.5, generator=gen)
            m.bias.data.uniform_(0.0, 0.3, generator=gen)
    return model.eval()


@torch.no_grad()
def torch_spikes(model: SpikingModel, seq: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Spikes ``[T, B, ...]`` of every LIF layer by module name, and per-step logits."""
    record: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: record.__setitem__(name, out[0]))
             for name, m in model.named_modules() if isinstance(m, LIF)]
    try:
        out, _ = model.run(seq)
    finally:
        for h in hooks:
            h.remove()
    return record, out
