"""Models for the emulator tests and benchmark: paper-size networks whose every layer fires."""

from __future__ import annotations

import torch
from torch import nn

from snnsec.models import build_model
from snnsec.models.base import SpikingModel
from snnsec.neurons import LIF, NeuronParameters


@torch.no_grad()
def calibrated(model: SpikingModel, x: torch.Tensor, mean: float = 0.3, std: float = 1.0, seed: int = 0) -> SpikingModel:
    """Set every BatchNorm's statistics (and every BN-less Linear before a neuron) from the
    currents that ``x`` actually produces, layer by layer, so each neuron's input current is
    about ``N(mean, std**2)`` in units of its threshold: every layer fires, none saturates."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    mods = list(model.named_modules())
    points: list[nn.Module] = []
    for i, (_, m) in enumerate(mods):
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            points.append(m)
        elif isinstance(m, nn.Linear) and i + 1 < len(mods) and isinstance(mods[i + 1][1], LIF):
            points.append(m)
    seq = model.encoder.encode(x, int(model.T))
    for m in points:
        seen: list[torch.Tensor] = []
        hook = m.register_forward_hook(lambda mod, inp, out: seen.append(inp[0] if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)) else out))
        try:
            model.run(seq)
        finally:
            hook.remove()
        h = seen[0].double()
        dims = [0] + list(range(2, h.dim()))
        mu, var = h.mean(dims), h.var(dims).clamp_min(1e-6)
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.copy_(mu.float())
            m.running_var.copy_(var.float())
            m.eps = 1e-5
            m.weight.data.fill_(std)
            m.bias.data = (mean + 0.2 * torch.rand(m.bias.shape, generator=gen) - 0.1).float()
        else:
            s = std / var.sqrt()
            m.weight.data *= s.float()[:, None]
            b = m.bias.data if m.bias is not None else torch.zeros(m.out_features)
            m.bias.data = ((b - mu.float()) * s.float() + mean).float()
    return model.eval()


def full_width(name: str, encoder: str = "direct", T: int = 2, seed: int = 0, leak: float = 1.0,
               reset: str = "hard", num_classes: int = 10, x: torch.Tensor | None = None) -> SpikingModel:
    """A full-width ``name`` on 3x32x32, calibrated on ``x`` (default: 2 random images)."""
    torch.manual_seed(seed)
    model = build_model(name, num_classes=num_classes, input_shape=(3, 32, 32), T=T, encoder=encoder,
                        neuron=NeuronParameters(leak=leak, reset=reset))
    if x is None:
        x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    return calibrated(model, x, seed=seed)


def exportable_resnet() -> str:
    """``resnet17`` if snnsec's exporter maps it, else ``resnet17-v1`` (the current resnet17 has
    two linear layers without a neuron between them, which the graph builder refuses today)."""
    from snnsec.errors import InputError
    from snnsec.export.graph import model_graph

    model = build_model("resnet17", num_classes=2, input_shape=(3, 8, 8), T=1, width=0.0625).eval()
    try:
        model_graph(model)
    except InputError:
        return "resnet17-v1"
    return "resnet17"


def tiny_resnet(encoder: str = "poisson", leak: float = 1.0, reset: str = "soft", T: int = 3, seed: int = 0) -> SpikingModel:
    """A 1/16-width ResNet-17 on 3x8x8 with random BatchNorm statistics (identity, pooled and 1x1
    shortcuts)."""
    torch.manual_seed(seed)
    model = build_model(exportable_resnet(), num_classes=4, input_shape=(3, 8, 8), T=T, width=0.0625,
                        encoder=encoder, neuron=NeuronParameters(leak=leak, reset=reset))
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.2, 0.2, generator=gen)
            m.running_var.uniform_(0.2, 0.5, generator=gen)
            m.weight.data.uniform_(0.8, 1.5, generator=gen)
            m.bias.data.uniform_(0.0, 0.3, generator=gen)
    return model.eval()
