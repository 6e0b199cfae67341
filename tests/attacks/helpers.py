"""Helpers shared by the attack tests."""

from __future__ import annotations

import torch

from snnsec.models import SpikingModel


def make_active(model: SpikingModel, x: torch.Tensor, quantile: float = 0.7, scale: float = 0.8) -> None:
    """Give every neuron layer a threshold at which a good share of its neurons fire.

    Untrained deep SNNs are nearly silent, which would make gradient comparisons vacuous. One
    forward pass with a pre-hook per layer sets that layer's threshold from the currents it
    actually receives (so each deeper layer is tuned to the already-tuned layers before it).
    """

    def tune(layer, args):  # type: ignore[no-untyped-def]
        current = args[0].detach().mean(0).flatten()
        step = max(1, current.numel() // 200_000)
        q = float(torch.quantile(current[::step].float(), quantile))
        layer.p = layer.p._replace(theta=max(scale * q, 1e-3))

    hooks = [n.register_forward_pre_hook(tune) for n in model.neurons()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()


def batch(data, n: int) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[no-untyped-def]
    """The ``n`` samples an ``snnsec craft --n n`` would attack (all classes: the split is sorted)."""
    from snnsec.data.base import sample_indices

    items = [data[int(i)] for i in sample_indices(len(data), n)]
    return torch.stack([i[0] for i in items]), torch.as_tensor([int(i[1]) for i in items])
