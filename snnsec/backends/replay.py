"""Replay clean and adversarial inputs on a backend and compare it with torch.

:func:`backend_predict` is the one entry point other commands reuse (``snnsec evaluate
--backend``): model + inputs + backend name -> predictions. :func:`deploy_report` is what
``snnsec deploy`` prints: clean accuracy and agreement with torch, and with adversarial examples
the attack success rate on both and their ratio (how much of the attack transfers).

ASR follows the paper: among samples classified correctly when clean, the share misclassified
after the attack; each platform is judged on its own clean-correct samples.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import torch

from snnsec.attacks.store import AdversarialSet
from snnsec.backends import get_backend
from snnsec.backends.base import Backend, Prediction
from snnsec.errors import InputError
from snnsec.models.base import SpikingModel

log = logging.getLogger(__name__)


def backend_predict(model: SpikingModel, inputs: torch.Tensor, backend: str | Backend = "torch",
                    seed: int = 0, **options: Any) -> Prediction:
    """Predictions of ``backend`` (a name from :data:`snnsec.backends.BACKENDS` or an instance)
    for ``inputs`` ``[N, *sample_shape]`` in [0, 1]. All N go through one backend run (for
    lava-sim: one runtime)."""
    impl = get_backend(backend, model, **options) if isinstance(backend, str) else backend
    return impl.predict(inputs, seed=seed)


def attack_success_rate(clean_pred: np.ndarray, adv_pred: np.ndarray, labels: np.ndarray) -> float:
    """Share of clean-correct samples that the adversarial input misclassifies (NaN if none)."""
    correct = clean_pred == labels
    if not correct.any():
        return float("nan")
    return float(np.mean(adv_pred[correct] != labels[correct]))


def deploy_report(
    model: SpikingModel,
    x: torch.Tensor,
    y: torch.Tensor,
    backend: str = "lava-sim",
    x_adv: torch.Tensor | None = None,
    seed: int = 0,
    **options: Any,
) -> dict[str, Any]:
    """Compare ``backend`` with torch on clean inputs ``x`` (and adversarial ``x_adv``).

    Clean and adversarial inputs go through the backend in one run. Returns a JSON-ready dict
    with ``n``, ``clean_accuracy``, ``torch_clean_accuracy``, ``agreement`` and, with ``x_adv``,
    ``asr_backend``, ``asr_torch``, ``transfer_ratio`` (= asr_backend / asr_torch) and
    ``adv_agreement``.
    """
    n = len(y)
    if n == 0:
        raise InputError("no samples to deploy (n = 0)")
    if len(x) != n or (x_adv is not None and x_adv.shape != x.shape):
        raise InputError(f"x, y and x_adv must match: got {list(x.shape)}, {n} labels, "
                         f"{None if x_adv is None else list(x_adv.shape)}")
    both = x if x_adv is None else torch.cat([x, x_adv])
    start = time.perf_counter()
    ref = backend_predict(model, both, "torch", seed=seed)
    target = backend_predict(model, both, backend, seed=seed, **options)
    labels = y.detach().cpu().numpy().astype(np.int64)
    clean_t, clean_b = ref.labels[:n], target.labels[:n]
    report: dict[str, Any] = {
        "backend": backend,
        "n": n,
        "clean_accuracy": float(np.mean(clean_b == labels)),
        "torch_clean_accuracy": float(np.mean(clean_t == labels)),
        "agreement": float(np.mean(clean_b == clean_t)),
    }
    if x_adv is not None:
        adv_t, adv_b = ref.labels[n:], target.labels[n:]
        asr_b = attack_success_rate(clean_b, adv_b, labels)
        asr_t = attack_success_rate(clean_t, adv_t, labels)
        report.update({
            "adv_accuracy": float(np.mean(adv_b == labels)),
            "torch_adv_accuracy": float(np.mean(adv_t == labels)),
            "adv_agreement": float(np.mean(adv_b == adv_t)),
            "asr_backend": asr_b,
            "asr_torch": asr_t,
            "transfer_ratio": asr_b / asr_t if asr_t and np.isfinite(asr_t) and np.isfinite(asr_b) else float("nan"),
        })
    report["seconds"] = round(time.perf_counter() - start, 2)
    report["backend_info"] = target.info
    return report


def adversarial_inputs(adv: AdversarialSet, n: int | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first ``n`` (clean, adversarial, label) triples of an adversarial set."""
    k = len(adv) if n is None else min(n, len(adv))
    return adv.x[:k], adv.x_adv[:k], adv.y[:k]


class BackendPredictor:
    """``predict(x) -> labels`` on any backend: the predictor interface of
    :func:`snnsec.evaluation.robustness.robustness_report`, so ``snnsec evaluate --backend``
    reuses this module. Each call is one backend run (for lava-sim: one runtime for all of x).
    """

    def __init__(self, model: SpikingModel, backend: str, seed: int = 0, **options: Any) -> None:
        self.model = model
        self.backend = get_backend(backend, model, **options)
        self.seed = seed
        self.info: dict[str, Any] = {}

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        pred = self.backend.predict(x, seed=self.seed)
        self.info = pred.info
        return torch.from_numpy(pred.labels)
