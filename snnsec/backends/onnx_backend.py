"""onnxruntime on the model exported with :func:`snnsec.export.onnx.export_onnx`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from snnsec.backends.base import Prediction, input_steps, prediction
from snnsec.models.base import SpikingModel


class OnnxBackend:
    """Exports the model (unrolled over T) to ONNX and runs it with onnxruntime on the CPU.

    Args:
        model: a trained model; path: an existing export to use instead of a temporary one.
    """

    name = "onnx"

    def __init__(self, model: SpikingModel, path: str | os.PathLike[str] | None = None, batch_size: int = 256) -> None:
        self.model = model.eval()
        self.path = Path(path) if path is not None else None
        self.batch_size = batch_size

    def predict(self, x: torch.Tensor, seed: int = 0) -> Prediction:
        import onnxruntime as ort

        from snnsec.export.onnx import export_onnx

        steps = input_steps(self.model, x, seed).astype(np.float32)
        with tempfile.TemporaryDirectory(prefix="snnsec-onnx-") as tmp:
            path = self.path or Path(tmp) / "model.onnx"
            if self.path is None or not path.is_file():
                export_onnx(self.model, path)
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            out = []
            for i in range(0, len(steps), self.batch_size):
                block = steps[i:i + self.batch_size]
                feed = block[:, 0] if self.model.encoder.static_steps else np.ascontiguousarray(np.swapaxes(block, 0, 1))
                out.append(session.run(["logits"], {"x": feed})[0].astype(np.float64) * self.model.T)
        return prediction(np.concatenate(out) if out else np.zeros((0, self.model.meta.num_classes)), path=str(path))
