"""The reference backend: the PyTorch model itself."""

from __future__ import annotations

import numpy as np
import torch

from snnsec.backends.base import Prediction, input_steps, prediction
from snnsec.models.base import SpikingModel
from snnsec.utils.device import module_device


class TorchBackend:
    """Runs the model in PyTorch on the same input steps the other backends get.

    Args:
        model: a trained model (put in eval mode); batch_size: samples per forward.
    """

    name = "torch"

    def __init__(self, model: SpikingModel, batch_size: int = 256) -> None:
        self.model = model.eval()
        self.batch_size = batch_size

    @torch.no_grad()
    def predict(self, x: torch.Tensor, seed: int = 0) -> Prediction:
        steps = torch.from_numpy(input_steps(self.model, x, seed))
        encoder = self.model.encoder
        scores = []
        dev = module_device(self.model)
        for i in range(0, len(steps), self.batch_size):
            seq = encoder.from_host(steps[i:i + self.batch_size].transpose(0, 1).to(dev))  # [T, B, ...]
            out, _ = self.model.run(seq)
            scores.append(out.double().sum(0).cpu())
        return prediction(torch.cat(scores).numpy() if scores else np.zeros((0, self.model.meta.num_classes)))
