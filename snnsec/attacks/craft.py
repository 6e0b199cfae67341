"""Crafting adversarial examples over a dataset: batched, seeded per batch, resumable.

Batch ``b`` is crafted with its own seed, derived from the base seed and ``b``
(:func:`batch_seed`), so its result does not depend on which batches ran before it in this
process. After each batch, its adversarial inputs land atomically in ``<out>.partial/``; a run
started again with the same options loads the finished batches instead of redoing them, and its
output is the same file an uninterrupted run writes. The final file is written atomically and the
partial folder is removed.

Under torchrun the batches still missing from ``<out>.partial/`` are dealt round-robin to the
ranks; each rank writes its finished batches there, and rank 0 then assembles the file from the
folder exactly as a resumed single-process run does (:mod:`snnsec.utils.shards`, shared with
``evaluate`` and ``deploy``). Because a batch's seed depends only on (seed, b), the output is
byte-identical to the single-process run, and a run killed under any number of ranks resumes
under any other number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from snnsec.attacks.attack import Attack, AttackSpec
from snnsec.data.adversarial import AdversarialSet
from snnsec.attacks.threat import input_domain
from snnsec.data.base import sample_indices, stack_samples
from snnsec.errors import InputError
from snnsec.models.base import SpikingModel
from snnsec.utils.device import module_device
from snnsec.utils.seeding import seeded_generator
from snnsec.utils.shards import BatchFolder, batch_seed, discard_partial, run_batches

log = logging.getLogger(__name__)


def craft_meta(
    spec: AttackSpec,
    target: SpikingModel,
    target_sha256: str,
    crafted_on: SpikingModel | None = None,
    crafted_on_sha256: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Metadata of an adversarial file: attack config, model hashes, seed, version; no paths or times."""
    from snnsec import __version__

    source = crafted_on if crafted_on is not None else target
    return {
        "attack": spec.describe(input_domain(source)),
        "eps": spec.eps,
        "model_sha256": target_sha256,
        "model_arch": target.meta.arch,
        "model_T": target.T,
        "crafted_on_sha256": crafted_on_sha256 or target_sha256,
        "black_box": crafted_on_sha256 is not None and crafted_on_sha256 != target_sha256,
        "crafted_T": source.T * spec.te,
        **extra,
        "snnsec_version": __version__,
    }


__all__ = ["CraftResult", "PartialRun", "batch_seed", "craft", "craft_meta", "discard_partial"]


@dataclass
class CraftResult:
    adv: AdversarialSet  # on ranks other than 0 of a torchrun job: empty (rank 0 assembles the file)
    batches: int
    resumed_batches: int


class PartialRun(BatchFolder):
    """The ``<out>.partial/`` folder of one crafting run (:class:`~snnsec.utils.shards.BatchFolder`),
    one adversarial batch per file."""

    def load(self, b: int, index: torch.Tensor) -> torch.Tensor | None:
        saved = self.load_batch(b, index)
        if saved is None:
            return None
        if not valid_adversarial(saved, len(index)):
            log.warning("ignoring damaged %s; crafting that batch again", self.path(b))
            return None
        return saved["x_adv"]

    def save(self, b: int, index: torch.Tensor, x_adv: torch.Tensor) -> None:
        self.save_batch(b, index, {"x_adv": x_adv})


def valid_adversarial(saved: dict[str, Any], n: int) -> bool:
    """A saved batch holds ``x_adv``: a finite float tensor of ``n`` samples."""
    x_adv = saved.get("x_adv")
    return (isinstance(x_adv, torch.Tensor) and x_adv.is_floating_point() and x_adv.dim() >= 1
            and x_adv.shape[0] == n and bool(torch.isfinite(x_adv).all()))


def attack_batch(attack: Attack, model: SpikingModel, x: torch.Tensor, y: torch.Tensor, seed: int,
                 device: torch.device | None = None, active: torch.Tensor | None = None) -> torch.Tensor:
    """One batch attacked as ``snnsec craft`` attacks its batch of seed ``seed``, on ``device``
    (``None``: where the model is); the result is on the CPU.

    The seed goes to the attack's generator (on the device), to the global RNG (Poisson encoders
    without a generator of their own) and to an encoder that has one. ``active`` attacks only
    those rows (the others come back unchanged).
    """
    dev = device if device is not None else module_device(model)
    if getattr(model.encoder, "generator", None) is not None:
        model.encoder.reseed(seed)  # a Poisson encoder with its own generator
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        rows = {} if active is None else {"active": active.to(dev)}
        return attack(model, x.to(dev), y.to(dev), seeded_generator(seed, dev), **rows).cpu()


def craft(
    model: SpikingModel,
    data: Dataset,
    spec: AttackSpec,
    *,
    n: int | None = None,
    batch_size: int = 64,
    seed: int = 0,
    meta: dict[str, Any] | None = None,
    partial: str | Path | None = None,
    device: torch.device | None = None,
    every_rank: bool = False,
) -> CraftResult:
    """Attack ``n`` samples of ``data`` with gradients of ``model``.

    Args:
        model: the model whose gradients are used (the target, or a substitute for black box).
        data: a Dataset of ``(x in the input domain, y)``.
        spec: the attack. n: samples (all if ``None``), chosen by :func:`sample_indices`.
            batch_size: samples per batch.
        seed: base seed; batch ``b`` uses :func:`batch_seed` (``seed``, ``b``) for the attack's
            generator and for the global RNG (Poisson encoders); an encoder with its own generator
            is reseeded with it.
        meta: stored in the result (see :func:`craft_meta`); with ``partial`` it is also the
            fingerprint that a resumed run must match.
        partial: folder for finished batches (resume); ``None`` keeps everything in memory.
            Required under torchrun: it is where the ranks hand their batches to rank 0.
        device: where the attack runs (``None``: where the model is). The attack's generator
            lives there too; results come back to the CPU.
        every_rank: under torchrun, every rank returns the whole set (read from the folder), not
            only rank 0 (for work that follows on all ranks, e.g. ``snnsec evaluate``).

    Returns:
        A :class:`CraftResult` with the :class:`AdversarialSet` (``x``, ``x_adv``, ``y``, and
        ``index``, the samples' positions in ``data``).
    """
    if batch_size < 1:
        raise InputError(f"batch size must be positive, got {batch_size}")
    order = sample_indices(len(data), n)
    total = len(order)
    if total < 1:
        raise InputError(f"nothing to attack: n={n} with {len(data)} samples in the split")
    meta = dict(meta or {})
    attack = spec.build(input_domain(model))
    run = PartialRun(Path(partial), meta) if partial is not None else None
    n_batches = (total + batch_size - 1) // batch_size
    run_on = device if device is not None else module_device(model)

    def index_of(b: int) -> torch.Tensor:
        return order[b * batch_size : (b + 1) * batch_size]

    def one_batch(b: int) -> dict[str, torch.Tensor]:
        x, y = stack_samples(data, index_of(b))
        return {"x_adv": attack_batch(attack, model, x, y, batch_seed(seed, b), run_on)}

    shards = run_batches(n_batches, index_of, lambda bs: [one_batch(b) for b in bs], folder=run,
                         valid=lambda b, saved: valid_adversarial(saved, len(index_of(b))),
                         every_rank=every_rank, desc=spec.attack)
    if shards.results is None:  # a rank other than 0 of a torchrun job: rank 0 assembles the file
        empty = torch.empty(0)
        return CraftResult(AdversarialSet(empty, empty, empty.long(), empty.long(), meta), n_batches, shards.resumed)
    xs, ys = zip(*(stack_samples(data, index_of(b)) for b in range(n_batches)))
    adv = AdversarialSet(torch.cat(xs), torch.cat([r["x_adv"] for r in shards.results]), torch.cat(ys),
                         torch.cat([index_of(b) for b in range(n_batches)]), meta)
    return CraftResult(adv.validate(), n_batches, shards.resumed)
