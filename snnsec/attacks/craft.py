"""Crafting adversarial examples over a dataset: batched, seeded per batch, resumable.

Batch ``b`` is crafted with its own seed, derived from the base seed and ``b``
(:func:`batch_seed`), so its result does not depend on which batches ran before it in this
process. After each batch, its adversarial inputs land atomically in ``<out>.partial/``; a run
started again with the same options loads the finished batches instead of redoing them, and its
output is the same file an uninterrupted run writes. The final file is written atomically and the
partial folder is removed.

Under torchrun (:mod:`snnsec.utils.distributed`) the batches still missing from ``<out>.partial/``
are dealt round-robin to the ranks; each rank writes its finished batches there, and rank 0 then
assembles the file from the folder exactly as a resumed single-process run does. Because a
batch's seed depends only on (seed, b), the output is byte-identical to the single-process run,
and a run killed under any number of ranks resumes under any other number.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from snnsec.attacks.attack import AttackSpec
from snnsec.data.adversarial import AdversarialSet
from snnsec.attacks.threat import input_domain
from snnsec.data.base import sample_indices, stack_samples
from snnsec.errors import InputError, SnnsecError
from snnsec.models.base import SpikingModel
from snnsec.utils import distributed as dist
from snnsec.utils.io import atomic_torch_save, atomic_write_json
from snnsec.utils.progress import progress

log = logging.getLogger(__name__)


def batch_seed(seed: int, batch: int) -> int:
    """A 63-bit seed for batch ``batch`` of a run seeded with ``seed`` (NumPy ``SeedSequence``)."""
    words = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(batch)]).generate_state(2, np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


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


@dataclass
class CraftResult:
    adv: AdversarialSet  # on ranks other than 0 of a torchrun job: empty (rank 0 assembles the file)
    batches: int
    resumed_batches: int


class PartialRun:
    """The ``<out>.partial/`` folder of one crafting run: a fingerprint plus one file per batch."""

    def __init__(self, folder: Path, meta: dict[str, Any]) -> None:
        self.folder = folder
        self.fingerprint = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()

    def open(self) -> None:
        run = self.folder / "run.json"
        if run.is_file():
            try:
                data = json.loads(run.read_text())
                found = data.get("fingerprint") if isinstance(data, dict) else None
            except (OSError, ValueError):
                found = None
            if found != self.fingerprint:
                raise InputError(
                    f"{self.folder} holds an unfinished run with other options; "
                    "rerun with the same options to resume it, or delete it to start over"
                )
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_json(run, {"fingerprint": self.fingerprint})

    def path(self, b: int) -> Path:
        return self.folder / f"batch-{b:06d}.pt"

    def load(self, b: int, index: torch.Tensor) -> torch.Tensor | None:
        path = self.path(b)
        if not path.is_file():
            return None
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - a damaged batch is simply crafted again
            log.warning("ignoring unreadable %s; crafting that batch again", path)
            return None
        x_adv = saved.get("x_adv") if isinstance(saved, dict) else None
        saved_index = saved.get("index") if isinstance(saved, dict) else None
        if not isinstance(saved_index, torch.Tensor) or saved_index.shape != index.shape or not torch.equal(saved_index, index):
            return None
        if (not isinstance(x_adv, torch.Tensor) or not x_adv.is_floating_point() or x_adv.dim() < 1
                or x_adv.shape[0] != len(index) or not bool(torch.isfinite(x_adv).all())):
            log.warning("ignoring damaged %s; crafting that batch again", path)
            return None
        return x_adv

    def save(self, b: int, index: torch.Tensor, x_adv: torch.Tensor) -> None:
        atomic_torch_save({"index": index.clone(), "x_adv": x_adv.detach().cpu().contiguous()}, self.path(b))

    def remove(self) -> None:
        discard_partial(self.folder)


def discard_partial(folder: str | Path) -> None:
    """Delete a run's partial folder (after its final file has been written)."""
    shutil.rmtree(folder, ignore_errors=True)


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
    sharded = dist.is_distributed()
    if sharded and run is None:
        raise InputError("crafting across ranks needs a partial folder (the CLI uses <out>.partial/ on a shared filesystem)")
    if run is not None:
        _open_run(run, sharded)
    n_batches = (total + batch_size - 1) // batch_size
    run_on = device if device is not None else next(model.parameters(), torch.empty(0)).device

    def one_batch(b: int, index: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        s = batch_seed(seed, b)
        if getattr(model.encoder, "generator", None) is not None:
            model.encoder.reseed(s)  # a Poisson encoder with its own generator
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(s)
            if run_on.type == "cpu":
                return attack(model, x, y, torch.Generator().manual_seed(s))
            gen = torch.Generator(device=run_on).manual_seed(s)
            return attack(model, x.to(run_on), y.to(run_on), gen).cpu()

    resumed = 0
    bar = progress(total=total, desc=spec.attack, unit="sample")
    if sharded and run is not None:  # (a sharded run always has one: checked above)
        todo = [b for b in range(n_batches) if not run.path(b).is_file()]
        resumed = n_batches - len(todo)
        failure: BaseException | None = None
        try:
            for b in dist.shard(todo):
                index = order[b * batch_size : (b + 1) * batch_size]
                x, y = stack_samples(data, index)
                run.save(b, index, one_batch(b, index, x, y))
                bar.update(len(index) * dist.world_size())  # the other ranks move at about the same pace
        except Exception as exc:  # noqa: BLE001 - re-raised below, after telling the other ranks
            failure = exc
        if not dist.all_agree(failure is None):
            bar.close()
            if failure is not None:
                raise failure
            raise SnnsecError(f"another rank failed while crafting; finished batches stay in {run.folder}; rerun to resume")
        if not dist.is_main():
            bar.close()
            empty = torch.empty(0)
            return CraftResult(AdversarialSet(empty, empty, empty.long(), empty.long(), meta), n_batches, resumed)
        bar.reset(total=total)
    xs, advs, ys, idxs = [], [], [], []
    for b in range(n_batches):
        index = order[b * batch_size : (b + 1) * batch_size]
        x, y = stack_samples(data, index)
        x_adv = run.load(b, index) if run is not None else None
        if x_adv is not None:
            resumed += 0 if sharded else 1
        else:
            x_adv = one_batch(b, index, x, y)
            if run is not None:
                run.save(b, index, x_adv)
        xs.append(x)
        advs.append(x_adv)
        ys.append(y)
        idxs.append(index)
        bar.update(len(index))
    bar.close()
    if resumed:
        log.info("resumed %d of %d batches from %s", resumed, n_batches, run.folder if run else "")
    adv = AdversarialSet(torch.cat(xs), torch.cat(advs), torch.cat(ys), torch.cat(idxs), meta)
    return CraftResult(adv.validate(), n_batches, resumed)


def _open_run(run: PartialRun, sharded: bool) -> None:
    """Check or create the partial folder; under torchrun rank 0 does it and the others follow
    (all ranks then see the same finished batches before any of them writes)."""
    if not sharded:
        run.open()
        return
    error: InputError | None = None
    if dist.is_main():
        try:
            run.open()
        except InputError as exc:
            error = exc
    if not dist.all_agree(error is None):
        raise error or InputError(f"rank 0 refused to resume {run.folder} (see its message)")
