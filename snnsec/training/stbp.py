"""STBP training (paper §3.2): BPTT through the surrogate spike function.

The loss is cross-entropy on the time-averaged logits. Optimiser SGD (the paper's recipe:
lr 0.1, momentum 0.9, weight decay 5e-4) or Adam, with a cosine schedule over all steps.
Training resumes from a per-epoch checkpoint when one exists.
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
from snnsec.utils.io import atomic_torch_save
from snnsec.utils.progress import progress
from snnsec.utils.seeding import seed_everything

log = logging.getLogger(__name__)
OPTIMIZERS = ("sgd", "adam")


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
) -> TrainResult:
    """Train ``model`` in place with STBP and return its clean test accuracy.

    If ``checkpoint`` is given, the state after every epoch is written there atomically, and a
    run started with an existing checkpoint of the same recipe continues after its last epoch.
    """
    recipe.validated()
    gen = seed_everything(recipe.seed)
    loader = DataLoader(train_set, batch_size=recipe.batch_size, shuffle=True, generator=gen, drop_last=False)
    opt = _optimizer(model, recipe)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=recipe.epochs * max(1, len(loader)))
    history: list[dict[str, float]] = []
    start = 0
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.is_file():
        start, history = _resume(ckpt, model, opt, sched, gen, recipe)
        log.info("resuming training after epoch %d from %s", start, ckpt)

    for epoch in range(start, recipe.epochs):
        model.train()
        total, correct, loss_sum = 0, 0, 0.0
        bar = progress(loader, desc=f"epoch {epoch + 1}/{recipe.epochs}", unit="batch")
        for x, y in bar:
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += len(y)
            correct += int((logits.argmax(1) == y).sum())
            loss_sum += loss.item() * len(y)
            bar.set_postfix(loss=f"{loss_sum / total:.3f}", acc=f"{correct / total:.3f}")
        history.append({"epoch": epoch + 1, "loss": loss_sum / total, "train_accuracy": correct / total})
        log.info("epoch %d/%d: loss %.4f, train accuracy %.4f", epoch + 1, recipe.epochs, loss_sum / total, correct / total)
        if ckpt is not None:
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

    model.eval()
    acc = accuracy(model, test_set)
    return TrainResult(test_accuracy=acc, history=history, resumed_from_epoch=start)


def _resume(
    ckpt: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, sched: Any, gen: torch.Generator, recipe: Recipe
) -> tuple[int, list[dict[str, float]]]:
    try:
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is reported the same way
        raise InputError(f"cannot resume from {ckpt}: {type(exc).__name__}; delete it to start over") from None
    if state.get("recipe") != dataclasses.asdict(recipe):
        raise InputError(f"checkpoint {ckpt} was written with another recipe; delete it or pass the same options")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    gen.set_state(state["generator"])
    torch.set_rng_state(state["rng"])
    return int(state["epoch"]), list(state["history"])
