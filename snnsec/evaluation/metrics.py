"""Clean accuracy and predictions over a dataset, batched, without gradients."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from snnsec.utils.device import module_device
from snnsec.utils.progress import progress


@torch.no_grad()
def predict(model: torch.nn.Module, data: Dataset, batch_size: int = 256, desc: str = "eval") -> tuple[torch.Tensor, torch.Tensor]:
    """(predictions, labels) of ``model`` on every sample of ``data``, in order."""
    was_training = model.training
    model.eval()
    preds, labels = [], []
    loader = DataLoader(data, batch_size=batch_size, shuffle=False)
    device = module_device(model)
    for x, y in progress(loader, desc=desc, unit="batch"):
        preds.append(model(x.to(device)).argmax(1).cpu())
        labels.append(y)
    model.train(was_training)
    return torch.cat(preds), torch.cat(labels)


def accuracy(model: torch.nn.Module, data: Dataset, batch_size: int = 256) -> float:
    """Fraction of samples in ``data`` that ``model`` classifies correctly."""
    preds, labels = predict(model, data, batch_size)
    return float((preds == labels).double().mean()) if len(labels) else float("nan")
