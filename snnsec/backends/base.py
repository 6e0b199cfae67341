"""The backend protocol: one small interface for torch, ONNX, Lava's simulator and Loihi 2.

A backend wraps one trained model and answers :meth:`Backend.predict` for a batch of samples.
Every backend sees the same input steps: :func:`input_steps` draws Poisson spikes once, from a
seeded generator, so a random encoder cannot make two backends disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from snnsec.models.base import SpikingModel


@dataclass
class Prediction:
    """Predictions for N samples.

    Attributes:
        labels: ``[N]`` predicted classes (argmax of ``scores``, first index on ties).
        scores: ``[N, classes]`` the readout summed over the T steps, in logit units
            (torch: sum of logits; Lava fixed point: readout ``v / (64 * scale)``).
        info: backend details (timing, quantisation, builder, ...).
    """

    labels: np.ndarray
    scores: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """Runs a model. ``predict(x [N, *sample_shape] in [0, 1]) -> Prediction``."""

    name: str

    def predict(self, x: torch.Tensor, seed: int = 0) -> Prediction: ...


def input_steps(model: SpikingModel, x: torch.Tensor, seed: int = 0) -> np.ndarray:
    """The T input steps ``[N, T, *step_shape]`` in [0, 1], before any normalisation.

    The model's encoder draws them (:meth:`~snnsec.encoders.Encoder.host_steps`): direct input
    repeats the image, Poisson draws Bernoulli spikes from ``seed``, event frames are already steps.
    """
    model.check_input(x)
    return model.encoder.host_steps(x, int(model.T), seed)


def prediction(scores: np.ndarray, **info: Any) -> Prediction:
    scores = np.asarray(scores, dtype=np.float64)
    return Prediction(scores.argmax(axis=1).astype(np.int64), scores, dict(info))
