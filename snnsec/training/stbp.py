"""STBP training (paper §3.2): BPTT through the surrogate spike function.

The loss is cross-entropy on the time-averaged logits. Optimiser SGD (the paper's recipe:
lr 0.1, momentum 0.9, weight decay 5e-4) or Adam, with a cosine schedule over all steps.
Training resumes from a per-epoch checkpoint when one exists.

Scale (docs/scale.md): ``device`` puts the running copy on a GPU; ``amp`` runs forward and loss
in bf16/fp16 autocast there (fp16 with a gradient scaler). Under torchrun the model is wrapped in
DistributedDataParallel and each rank reads its share of every epoch through a
``DistributedSampler``; ``batch_size`` stays the global batch. BatchNorm: on CUDA the layers
become ``SyncBatchNorm`` (statistics over the global batch, as in one process); on CPU (gloo,
where SyncBatchNorm cannot run) each rank normalises with the statistics of its own share of the
batch, and the running statistics kept are rank 0's (DDP broadcasts its buffers every step).
Only rank 0 writes checkpoints.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from snnsec.errors import InputError, unknown_choice
from snnsec.evaluation.metrics import accuracy
from snnsec.models.base import SpikingModel
from snnsec.utils import distributed as dist
from snnsec.utils.io import atomic_torch_save
from snnsec.utils.progress import progress
from snnsec.utils.seeding import seed_everything

log = logging.getLogger(__name__)
OPTIMIZERS = ("sgd", "adam")
AMP = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}
KEEP = ("last", "best")  # which epoch's weights the model file holds


@dataclass
class Recipe:
    """Training hyper-parameters (stored in the model file's metadata)."""

    epochs: int = 3
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 2e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    seed: int = 0
    schedule: str = "cosine"

    def validated(self) -> "Recipe":
        if self.optimizer not in OPTIMIZERS:
            raise unknown_choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise InputError(f"epochs, batch size and lr must be positive, got {self.epochs}, {self.batch_size}, {self.lr}")
        return self


@dataclass
class TrainResult:
    test_accuracy: float
    history: list[dict[str, float]] = field(default_factory=list)
    resumed_from_epoch: int = 0


def _optimizer(model: torch.nn.Module, r: Recipe) -> torch.optim.Optimizer:
    if r.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=r.lr, weight_decay=r.weight_decay)


def train(
    model: SpikingModel,
    train_set: Dataset,
    test_set: Dataset,
    recipe: Recipe,
    checkpoint: str | os.PathLike[str] | None = None,
    *,
    device: torch.device | None = None,
    amp: str = "off",
    workers: int = 0,
    eval_each_epoch: bool = False,
    best_checkpoint: str | os.PathLike[str] | None = None,
    keep: str = "last",
) -> TrainResult:
    """Train ``model`` in place with STBP and return its clean test accuracy.

    If ``checkpoint`` is given, the state after every epoch is written there atomically, and a
    run started with an existing checkpoint of the same recipe continues after its last epoch.

    Args:
        device: where to train (``None``: the CPU). The model stays there afterwards.
        amp: ``off``, ``bf16`` or ``fp16`` autocast (CUDA only; fp16 adds a gradient scaler).
        workers: DataLoader worker processes (pinned memory on CUDA).
        eval_each_epoch: also measure test accuracy after every epoch (rank 0; in the history).
        best_checkpoint: with ``eval_each_epoch``, the weights of the best epoch so far go here.
        keep: ``last`` or ``best``: which epoch's weights the model holds at the end.
    """
    recipe.validated()
    device = device if device is not None else torch.device("cpu")
    if amp not in AMP:
        raise unknown_choice("amp", amp, AMP)
    if AMP[amp] is not None and device.type != "cuda":
        raise InputError(f"--amp {amp} needs a CUDA device, got device {device}; use --amp off on the CPU")
    if keep not in KEEP or (keep == "best" and not eval_each_epoch):
        raise InputError(f"keep must be 'last', or 'best' with per-epoch evaluation, got {keep!r}")
    world = dist.world_size()
    if recipe.batch_size % world:
        raise InputError(f"--batch-size {recipe.batch_size} (the global batch) must be a multiple of the {world} ranks")
    gen = seed_everything(recipe.seed)
    sampler = None
    if world > 1:  # every rank sees its own 1/world of each epoch, reshuffled per epoch from the seed
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(train_set, num_replicas=world, rank=dist.rank(), shuffle=True, seed=recipe.seed)
    extra: dict[str, Any] = {}
    if workers > 0:
        extra = {"num_workers": workers, "persistent_workers": True}
    if device.type == "cuda":
        extra["pin_memory"] = True
    loader = DataLoader(train_set, batch_size=recipe.batch_size // world, shuffle=sampler is None, sampler=sampler,
                        generator=gen if sampler is None else None, drop_last=False, **extra)
    if device.type != "cpu":
        model.to(device)
    opt = _optimizer(model, recipe)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=recipe.epochs * max(1, len(loader)))
    history: list[dict[str, float]] = []
    start = 0
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.is_file():
        start, history = _resume(ckpt, model, opt, sched, gen, recipe)
        log.info("resuming training after epoch %d from %s", start, ckpt)
    net: torch.nn.Module = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        if device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)  # type: ignore[assignment]
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    amp_dtype = AMP[amp]
    scaler = torch.amp.GradScaler("cuda") if amp == "fp16" else None
    best = max((h.get("test_accuracy", -1.0) for h in history), default=-1.0)
    best_path = Path(best_checkpoint) if best_checkpoint is not None else None

    for epoch in range(start, recipe.epochs):
        net.train()
        if sampler is not None:
            sampler.set_epoch(epoch)
        total, correct, loss_sum = 0, 0, 0.0
        lr = opt.param_groups[0]["lr"]
        bar = progress(loader, desc=f"epoch {epoch + 1}/{recipe.epochs}", unit="batch")
        for x, y in bar:
            if device.type != "cpu":
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if amp_dtype is None:
                logits = net(x)
                loss = F.cross_entropy(logits, y)
            else:
                with torch.autocast(device.type, dtype=amp_dtype):
                    logits = net(x)
                    loss = F.cross_entropy(logits.float(), y)
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            sched.step()
            total += len(y)
            correct += int((logits.argmax(1) == y).sum())
            loss_sum += loss.item() * len(y)
            bar.set_postfix(loss=f"{loss_sum / total:.3f}", acc=f"{correct / total:.3f}")
        if world > 1:  # the epoch's numbers over all ranks
            loss_sum, c, t = dist.all_sum([loss_sum, correct, total])
            correct, total = int(c), int(t)
        row: dict[str, float] = {"epoch": epoch + 1, "loss": loss_sum / total, "train_accuracy": correct / total, "lr": lr}
        if eval_each_epoch and dist.is_main():
            with torch.random.fork_rng(devices=[]):  # a Poisson encoder's draws must not move training's RNG
                row["test_accuracy"] = accuracy(model, test_set)
            if row["test_accuracy"] > best:
                best = row["test_accuracy"]
                if best_path is not None:
                    atomic_torch_save({"epoch": epoch + 1, "test_accuracy": best, "model": model.state_dict()}, best_path)
        history.append(row)
        log.info("epoch %d/%d: loss %.4f, train accuracy %.4f%s", epoch + 1, recipe.epochs, loss_sum / total,
                 correct / total, f", test accuracy {row['test_accuracy']:.4f}" if "test_accuracy" in row else "")
        if ckpt is not None and dist.is_main():
            atomic_torch_save(
                {
                    "epoch": epoch + 1,
                    "recipe": dataclasses.asdict(recipe),
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "generator": gen.get_state(),
                    "rng": torch.get_rng_state(),
                    "history": history,
                },
                ckpt,
            )

    if keep == "best" and best_path is not None and best_path.is_file() and dist.is_main():
        kept = torch.load(best_path, map_location="cpu", weights_only=True)
        model.load_state_dict(kept["model"])
        log.info("keeping the weights of epoch %d (test accuracy %.4f)", kept["epoch"], kept["test_accuracy"])
    model.eval()
    if not dist.is_main():
        acc = float("nan")
    elif keep == "last" and start < recipe.epochs and "test_accuracy" in history[-1]:
        acc = history[-1]["test_accuracy"]  # these weights were just measured, from the same RNG state
    else:
        acc = accuracy(model, test_set)
    return TrainResult(test_accuracy=acc, history=history, resumed_from_epoch=start)


def _resume(
    ckpt: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, sched: Any, gen: torch.Generator, recipe: Recipe
) -> tuple[int, list[dict[str, float]]]:
    from snnsec.utils.io import safe_torch_load
    from snnsec.utils.schema import check_checkpoint, compare_state_dict

    hint = "; delete it to start over"
    try:
        state = safe_torch_load(ckpt, "training checkpoint")
        check_checkpoint(state, str(ckpt), recipe.epochs)
        if state.get("recipe") != dataclasses.asdict(recipe):
            raise InputError(f"checkpoint {ckpt} was written with another recipe; delete it or pass the same options")
        compare_state_dict(model.state_dict(), state["model"], str(ckpt), "the model being trained")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["rng"])
    except InputError as exc:
        raise InputError(f"cannot resume: {exc}" + ("" if "delete it" in str(exc) else hint)) from None
    except Exception as exc:  # noqa: BLE001 - optimizer/scheduler/RNG states that do not fit
        detail = " ".join(str(exc).split())[:200]
        raise InputError(f"cannot resume from {ckpt}: {type(exc).__name__}: {detail}{hint}") from None
    return int(state["epoch"]), list(state["history"])
