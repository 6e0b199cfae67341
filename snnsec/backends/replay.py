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
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from snnsec.data.adversarial import AdversarialSet
from snnsec.backends import get_backend
from snnsec.backends.base import Backend, Prediction
from snnsec.errors import InputError
from snnsec.models.base import SpikingModel
from snnsec.utils.metrics import attack_success_rate

log = logging.getLogger(__name__)


def backend_predict(model: SpikingModel, inputs: torch.Tensor, backend: str | Backend = "torch",
                    seed: int = 0, **options: Any) -> Prediction:
    """Predictions of ``backend`` (a name from :data:`snnsec.backends.BACKENDS` or an instance)
    for ``inputs`` ``[N, *sample_shape]`` in [0, 1]. All N go through one backend run (for
    lava-sim: one runtime)."""
    impl = get_backend(backend, model, **options) if isinstance(backend, str) else backend
    return impl.predict(inputs, seed=seed)


def compare_backends(
    model: SpikingModel,
    x: torch.Tensor,
    y: torch.Tensor,
    adversarial: Mapping[str, torch.Tensor] | None = None,
    backend: str = "lava-sim",
    seed: int = 0,
    **options: Any,
) -> dict[str, Any]:
    """Compare ``backend`` with torch on clean inputs ``x`` and any number of adversarial sets.

    All inputs (clean, then each adversarial set) go through the backend in ONE run, e.g. one
    Lava runtime. Returns ``n``, ``clean_accuracy``, ``torch_clean_accuracy``, ``agreement``,
    and per adversarial set (``attacks[name]``): ``asr_backend``, ``asr_torch``,
    ``transfer_ratio`` (= asr_backend / asr_torch), ``adv_agreement``, ``adv_accuracy``,
    ``torch_adv_accuracy``.
    """
    adversarial = dict(adversarial or {})
    n = len(y)
    if n == 0:
        raise InputError("no samples to deploy (n = 0)")
    for name, x_adv in adversarial.items():
        if len(x) != n or x_adv.shape != x.shape:
            raise InputError(f"x, y and the adversarial set {name!r} must match: got {list(x.shape)}, "
                             f"{n} labels, {list(x_adv.shape)}")
    both = torch.cat([x, *adversarial.values()])
    start = time.perf_counter()
    ref = backend_predict(model, both, "torch", seed=seed)
    target = backend_predict(model, both, backend, seed=seed, **options)
    report = backend_figures(backend, y, ref.labels, target.labels, list(adversarial))
    report["seconds"] = round(time.perf_counter() - start, 2)
    report["backend_info"] = target.info
    return report


def backend_figures(backend: str, y: torch.Tensor, ref_labels: np.ndarray, target_labels: np.ndarray,
                    names: list[str]) -> dict[str, Any]:
    """The figures of :func:`compare_backends` from predicted labels: torch's (``ref_labels``)
    and the backend's (``target_labels``), each ``[(1 + len(names)) * n]``, the clean inputs
    first, then each adversarial set of ``names`` in turn."""
    n = len(y)
    labels = y.detach().cpu().numpy().astype(np.int64)
    clean_t, clean_b = ref_labels[:n], target_labels[:n]
    report: dict[str, Any] = {
        "backend": backend,
        "n": n,
        "clean_accuracy": float(np.mean(clean_b == labels)),
        "torch_clean_accuracy": float(np.mean(clean_t == labels)),
        "agreement": float(np.mean(clean_b == clean_t)),
        "attacks": {},
    }
    for k, name in enumerate(names, start=1):
        adv_t, adv_b = ref_labels[k * n:(k + 1) * n], target_labels[k * n:(k + 1) * n]
        asr_b = attack_success_rate(clean_b == labels, adv_b == labels)
        asr_t = attack_success_rate(clean_t == labels, adv_t == labels)
        report["attacks"][name] = {
            "adv_accuracy": float(np.mean(adv_b == labels)),
            "torch_adv_accuracy": float(np.mean(adv_t == labels)),
            "adv_agreement": float(np.mean(adv_b == adv_t)),
            "asr_backend": asr_b,
            "asr_torch": asr_t,
            "transfer_ratio": asr_b / asr_t if asr_t and np.isfinite(asr_t) and np.isfinite(asr_b) else float("nan"),
        }
    return report


def flatten_adversarial(report: dict[str, Any]) -> dict[str, Any]:
    """A :func:`compare_backends` report with at most one adversarial set, its figures
    (``asr_backend``, ``asr_torch``, ``transfer_ratio``, ...) at the top level (``snnsec deploy``)."""
    attacks = report.pop("attacks")
    report.update(attacks.get("adv", {}))
    return report


def deploy_report(
    model: SpikingModel,
    x: torch.Tensor,
    y: torch.Tensor,
    backend: str = "lava-sim",
    x_adv: torch.Tensor | None = None,
    seed: int = 0,
    **options: Any,
) -> dict[str, Any]:
    """What ``snnsec deploy`` prints: :func:`compare_backends` with at most one adversarial set,
    its figures (``asr_backend``, ``asr_torch``, ``transfer_ratio``, ...) at the top level."""
    report = compare_backends(model, x, y, {"adv": x_adv} if x_adv is not None else None, backend, seed, **options)
    return flatten_adversarial(report)


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
