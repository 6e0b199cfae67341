"""Batches of one run, shared by torchrun ranks through a resumable ``<out>.partial/`` folder.

The one sharding mechanism of ``craft``, ``evaluate`` and ``deploy``. A run is cut into batches
whose results depend only on the batch itself (its samples and the seed derived from its number),
never on which process computed it or on what ran before. So:

- each finished batch lands atomically in the folder as ``batch-<b>.pt`` (its sample indices plus
  its result tensors), next to ``run.json``, the fingerprint of the run's options;
- under torchrun (:mod:`snnsec.utils.distributed`) rank 0 lists the batches that have no file
  yet and broadcasts the list, which is dealt round-robin to the ranks; every rank writes its own;
- rank 0 then assembles the result from the folder in batch order, exactly as a resumed
  single-process run does, so the output is byte-identical to the single-process run and a run
  killed under any number of ranks resumes under any other number.

If a rank fails, every rank stops at the next collective; finished batches stay in the folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from snnsec.errors import InputError, SnnsecError
from snnsec.utils import distributed as dist
from snnsec.utils.io import atomic_torch_save, atomic_write_json
from snnsec.utils.progress import progress

log = logging.getLogger(__name__)


def batch_seed(seed: int, batch: int) -> int:
    """A 63-bit seed for batch ``batch`` of a run seeded with ``seed`` (NumPy ``SeedSequence``):
    a batch's random draws depend on (seed, batch) only, not on the rank or what ran before."""
    words = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(batch)]).generate_state(2, np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


def partial_folder(out: str | Path) -> Path:
    """``<out>.partial``: where the finished batches of the run that writes ``out`` wait."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


def discard_partial(folder: str | Path) -> None:
    """Delete a run's partial folder (after its final file has been written)."""
    shutil.rmtree(folder, ignore_errors=True)


class BatchFolder:
    """The partial folder of one run: ``run.json`` (a fingerprint of ``meta``) plus one file per
    finished batch, ``{"index": sample indices, **result}`` as plain tensors, numbers and strings
    (read back with ``weights_only=True``)."""

    def __init__(self, folder: str | Path, meta: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.fingerprint = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()

    def open(self) -> None:
        """Create the folder, or check that it holds a run with the same options."""
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

    def load_batch(self, b: int, index: torch.Tensor) -> dict[str, Any] | None:
        """Batch ``b``'s saved result, or ``None`` if it is missing, unreadable or holds other samples."""
        path = self.path(b)
        if not path.is_file():
            return None
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - a damaged batch is simply computed again
            log.warning("ignoring unreadable %s; computing that batch again", path)
            return None
        saved_index = saved.get("index") if isinstance(saved, dict) else None
        if not isinstance(saved_index, torch.Tensor) or saved_index.shape != index.shape or not torch.equal(saved_index, index):
            return None
        return {k: v for k, v in saved.items() if k != "index"}

    def save_batch(self, b: int, index: torch.Tensor, result: dict[str, Any]) -> None:
        payload = {k: (v.detach().cpu().contiguous() if isinstance(v, torch.Tensor) else v) for k, v in result.items()}
        atomic_torch_save({"index": index.clone(), **payload}, self.path(b))

    def remove(self) -> None:
        discard_partial(self.folder)


def open_shared(run: BatchFolder) -> None:
    """Check or create the folder; under torchrun rank 0 does it and the others follow, so all
    ranks see the same finished batches before any of them writes."""
    if not dist.is_distributed():
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


@dataclass
class ShardResult:
    """``results[b]`` is batch ``b``'s result, on rank 0 (and every rank with ``every_rank``);
    ``None`` on the others. ``resumed``: batches found finished in the folder."""

    results: list[dict[str, Any]] | None
    resumed: int


def run_batches(
    n_batches: int,
    index_of: Callable[[int], torch.Tensor],
    compute: Callable[[list[int]], list[dict[str, Any]]],
    *,
    folder: BatchFolder | None = None,
    valid: Callable[[int, dict[str, Any]], bool] | None = None,
    group: int | None = 1,
    every_rank: bool = False,
    desc: str | None = None,
) -> ShardResult:
    """Compute ``n_batches`` batches, resumable from ``folder`` and sharded across torchrun ranks.

    Args:
        index_of: batch ``b``'s sample indices (stored with its result; a file holding other
            samples is not taken).
        compute: results of a list of batches, in that order: ``{name: tensor, ...}`` each. It
            must depend only on the batches it gets (each batch's own seed), never on the list.
        folder: the run's partial folder (``None``: all in memory). Required under torchrun.
        valid: a saved result that fails this check is computed again (with a warning).
        group: batches per ``compute`` call (``None``: all of a rank's batches in one call, e.g.
            one Lava runtime). Each is saved once its call returns.
        every_rank: every rank returns the assembled results (rank 0 only by default).
        desc: label of a progress bar in samples (``None``: no bar).
    """
    sharded = dist.is_distributed()
    if sharded and folder is None:
        raise InputError("sharding across ranks needs a partial folder (the CLI uses <out>.partial/ on a shared filesystem)")
    if folder is not None:
        open_shared(folder)
    total = sum(len(index_of(b)) for b in range(n_batches))
    bar = progress(total=total, desc=desc, unit="sample", **({"disable": True} if desc is None else {}))

    def work(batches: list[int], scale: int = 1) -> dict[int, dict[str, Any]]:
        done: dict[int, dict[str, Any]] = {}
        size = len(batches) if group is None else group
        for start in range(0, len(batches), max(1, size)):
            part = batches[start:start + max(1, size)]
            results = compute(part)
            if len(results) != len(part):
                raise SnnsecError(f"internal error: {len(results)} results for {len(part)} batches")
            for b, result in zip(part, results):
                if folder is not None:
                    folder.save_batch(b, index_of(b), result)
                done[b] = result
                bar.update(len(index_of(b)) * scale)  # the other ranks move at about the same pace
        return done

    resumed = 0
    try:
        if sharded:
            assert folder is not None  # checked above
            # rank 0 decides which batches are left and tells the others: a rank that listed the
            # folder itself could see a batch another rank had already finished, and the ranks
            # would deal out different lists (batches done twice, or by nobody)
            finished = dist.from_main([int(dist.is_main() and folder.path(b).is_file()) for b in range(n_batches)])
            todo = [b for b in range(n_batches) if not finished[b]]
            resumed = n_batches - len(todo)
            failure: BaseException | None = None
            try:
                work(dist.shard(todo), dist.world_size())
            except Exception as exc:  # noqa: BLE001 - re-raised below, after telling the other ranks
                failure = exc
            if not dist.all_agree(failure is None):
                if failure is not None:
                    raise failure
                raise SnnsecError(f"another rank failed; finished batches stay in {folder.folder}; rerun to resume")
            if not (dist.is_main() or every_rank):
                return ShardResult(None, resumed)
            bar.reset(total=total)
        results: list[dict[str, Any] | None] = []
        for b in range(n_batches):
            saved = folder.load_batch(b, index_of(b)) if folder is not None else None
            if saved is not None and valid is not None and not valid(b, saved):
                log.warning("ignoring damaged %s; computing that batch again", folder.path(b) if folder else b)
                saved = None
            if saved is not None:
                resumed += 0 if sharded else 1
                bar.update(len(index_of(b)))
            results.append(saved)
        missing = [b for b, r in enumerate(results) if r is None]
        for b, result in work(missing).items():
            results[b] = result
    finally:
        bar.close()
    if resumed and folder is not None:
        log.info("resumed %d of %d batches from %s", resumed, n_batches, folder.folder)
    return ShardResult([r for r in results if r is not None], resumed)
