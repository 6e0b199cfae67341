"""Predictions of clean and adversarial sets batch by batch, each batch with its own seed, so
the batches can be resumed from ``<out>.partial/`` and shared by torchrun ranks
(:mod:`snnsec.utils.shards`): what ``snnsec evaluate`` and ``snnsec deploy`` run.

A batch's labels depend only on its samples and the seed derived from its number, never on the
other batches or on the rank that computed them. lava-sim and loihi2-emu stream several batches
through one run (for lava-sim: one Lava runtime, its samples reset between each other), which
leaves every sample's spikes unchanged.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from snnsec.backends.base import Backend, Prediction, input_steps
from snnsec.errors import InputError
from snnsec.models.base import SpikingModel
from snnsec.utils.shards import BatchFolder, batch_seed, run_batches


#: ``backend_info`` fields that describe how the run went, not what it computed: wall time, the
#: simulated steps (lava-sim counts one pipeline drain per runtime, so one per torchrun rank) and
#: onnx's temporary export path. Everything else in a report is the same on any number of ranks.
RUN_SPECIFIC_INFO = ("seconds", "samples_per_s", "steps", "path")


def predict_batches(impl: Backend, model: SpikingModel, inputs: list[torch.Tensor], seeds: list[int]) -> list[Prediction]:
    """Predictions of several inputs ``[N_i, *sample_shape]``, each with its own seed (Poisson
    draws), so each result depends on its input and seed only.

    A backend that streams input steps (``run_steps``: lava-sim, loihi2-emu) gets them all in ONE
    run (for lava-sim: one runtime, its samples reset between each other); the others predict
    each input on its own. Each prediction's ``info`` is the run's, with ``seconds`` and ``steps``
    prorated by samples (see :func:`merge_info`).
    """
    run_steps = getattr(impl, "run_steps", None)
    if run_steps is None or len(inputs) <= 1:
        return [impl.predict(x, seed=s) for x, s in zip(inputs, seeds)]
    steps = [input_steps(model, x, s) for x, s in zip(inputs, seeds)]
    pred, _ = run_steps(np.concatenate(steps))
    total = max(1, sum(len(part) for part in steps))
    out, start = [], 0
    for part in steps:
        k = len(part)
        info = dict(pred.info)
        for key in ("seconds", "steps"):
            if isinstance(info.get(key), (int, float)):
                info[key] = info[key] * k / total
        out.append(Prediction(pred.labels[start:start + k], pred.scores[start:start + k], info))
        start += k
    return out


def merge_info(infos: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """One ``backend_info`` for ``n`` samples predicted in several runs: the first run's fields,
    ``seconds`` and ``steps`` summed over the runs, ``samples_per_s`` recomputed."""
    if not infos or not infos[0]:
        return {}
    merged = dict(infos[0])
    if "seconds" in merged:
        merged["seconds"] = round(sum(float(i.get("seconds") or 0.0) for i in infos), 3)
    if "steps" in merged:
        merged["steps"] = int(round(sum(float(i.get("steps") or 0) for i in infos)))
    if "samples_per_s" in merged:
        seconds = merged.get("seconds") or 0.0
        merged["samples_per_s"] = round(n / seconds, 3) if seconds > 0 else None
    return merged


@dataclass
class SetPredictions:
    """Labels of every set (``labels[i]``: ``[N]`` of set ``i``), torch's labels when asked
    (``reference``), one merged ``info`` and the seconds spent predicting (summed over batches)."""

    labels: list[np.ndarray]
    reference: list[np.ndarray] | None
    info: dict[str, Any]
    seconds: float


def predict_sets(
    impl: Backend,
    model: SpikingModel,
    sets: list[torch.Tensor],
    *,
    batch_size: int = 256,
    seed: int = 0,
    reference: Backend | None = None,
    index: torch.Tensor | None = None,
    folder: BatchFolder | None = None,
    group: int | None = 1,
    desc: str | None = None,
) -> SetPredictions | None:
    """Predictions of ``impl`` (and of ``reference``, e.g. torch) for sets of equal length (clean,
    adversarial, ...), batch by batch: batch ``b`` is samples ``[b*B, (b+1)*B)`` of every set, its
    random input draws come from :func:`~snnsec.utils.shards.batch_seed` (``seed``, ``b``), so a
    batch's labels never depend on the other batches.

    The batches run through :func:`~snnsec.utils.shards.run_batches`: resumable from ``folder``
    and, under torchrun, shared by the ranks; ``group`` batches go to :func:`predict_batches`
    at once (``None``: a rank's whole share, e.g. one Lava runtime per rank). ``index``: the
    samples' identities stored with each batch (default: their positions).

    Returns the predictions on rank 0 (and in a single process); ``None`` on the other ranks.
    """
    if not sets or any(len(s) != len(sets[0]) for s in sets):
        raise InputError(f"the sets to predict must have equal lengths, got {[len(s) for s in sets]}")
    n = len(sets[0])
    if n == 0:
        raise InputError("no samples to predict (n = 0)")
    if batch_size < 1:
        raise InputError(f"batch size must be a positive number of samples, got {batch_size}")
    ids = index if index is not None else torch.arange(n)
    n_batches = (n + batch_size - 1) // batch_size

    def index_of(b: int) -> torch.Tensor:
        return ids[b * batch_size:(b + 1) * batch_size]

    def compute(batches: list[int]) -> list[dict[str, Any]]:
        inputs = [s[b * batch_size:(b + 1) * batch_size] for b in batches for s in sets]
        seeds = [batch_seed(seed, b) for b in batches for _ in sets]
        start = time.perf_counter()
        refs = [reference.predict(x, seed=s) for x, s in zip(inputs, seeds)] if reference is not None else []
        preds = predict_batches(impl, model, inputs, seeds)
        share = (time.perf_counter() - start) / max(1, len(batches))
        out = []
        for i, _ in enumerate(batches):
            mine = preds[i * len(sets):(i + 1) * len(sets)]
            result: dict[str, Any] = {
                "labels": torch.from_numpy(np.concatenate([p.labels for p in mine]).astype(np.int64)),
                "info": json.dumps(_summed(mine), sort_keys=False, default=_plain),
                "seconds": float(share),
            }
            if reference is not None:
                theirs = refs[i * len(sets):(i + 1) * len(sets)]
                result["reference"] = torch.from_numpy(np.concatenate([p.labels for p in theirs]).astype(np.int64))
            out.append(result)
        return out

    def valid(b: int, saved: dict[str, Any]) -> bool:
        k = len(index_of(b)) * len(sets)
        keys = ("labels", "reference") if reference is not None else ("labels",)
        return (all(isinstance(saved.get(key), torch.Tensor) and saved[key].shape == (k,) for key in keys)
                and isinstance(saved.get("info"), str) and isinstance(saved.get("seconds"), float))

    done = run_batches(n_batches, index_of, compute, folder=folder, valid=valid, group=group, desc=desc)
    if done.results is None:
        return None

    def per_set(key: str) -> list[np.ndarray]:
        parts = [r[key].numpy().reshape(len(sets), -1) for r in done.results or []]
        return [np.concatenate([p[i] for p in parts]) for i in range(len(sets))]

    infos = [json.loads(r["info"]) for r in done.results]
    return SetPredictions(per_set("labels"), per_set("reference") if reference is not None else None,
                          merge_info(infos, n * len(sets)), sum(r["seconds"] for r in done.results))


def _summed(preds: list[Prediction]) -> dict[str, Any]:
    """The first prediction's info with ``seconds`` and ``steps`` summed over ``preds`` (unrounded)."""
    info = dict(preds[0].info)
    for key in ("seconds", "steps"):
        if isinstance(info.get(key), (int, float)):
            info[key] = sum(float(p.info.get(key) or 0.0) for p in preds)
    return info


def _plain(obj: Any) -> Any:
    """numpy scalars in a backend's info -> Python numbers (batch files hold plain data only)."""
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)
