"""``--recipe paper`` fills only unset options; the training options of the scale work (workers,
per-epoch evaluation, best checkpoint, --amp refused on the CPU) on a tiny model."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch
from torch.utils.data import Subset

from snnsec.errors import InputError
from snnsec.training import Recipe, train
from snnsec.training.recipes import RECIPES, apply_recipe


def _args(**given: object) -> argparse.Namespace:
    base = {k: None for k in ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "augment", "T")}
    return argparse.Namespace(**{**base, **given})


def test_paper_recipe_fills_only_what_was_not_given() -> None:
    args = _args(epochs=5, lr=0.05)
    filled = apply_recipe(args, "paper", augment_available=True)
    assert (args.optimizer, args.momentum, args.weight_decay, args.batch_size, args.augment, args.T) == \
        ("sgd", 0.9, 5e-4, 64, True, 8)
    assert (args.epochs, args.lr) == (5, 0.05)  # the user's flags win
    assert "epochs" not in filled and filled["optimizer"] == "sgd"
    args = _args()
    apply_recipe(args, "paper", augment_available=False, skip=("T",))
    assert args.augment is False and args.T is None and args.epochs == 200
    with pytest.raises(InputError, match="unknown recipe 'papr'; choose one of: default, paper"):
        apply_recipe(_args(), "papr", True)
    assert RECIPES["paper"]["lr"] == 0.1


def _tiny():  # type: ignore[no-untyped-def]
    from snnsec.data import get_dataset
    from snnsec.models import build_model
    from snnsec.neurons import NeuronParameters

    torch.manual_seed(0)
    ds = get_dataset("mnist5k", None)
    model = build_model("vgg5", num_classes=10, input_shape=ds.sample_shape(), T=2, width=0.25,
                        neuron=NeuronParameters(1.0, 1.0, "hard", "triangle", 1.0), normalization=ds.normalization)
    return model, Subset(ds.split("train"), range(64)), Subset(ds.split("test"), range(32))


def test_amp_on_the_cpu_is_refused() -> None:
    model, tr, te = _tiny()
    with pytest.raises(InputError, match="--amp fp16 needs a CUDA device, got device cpu"):
        train(model, tr, te, Recipe(epochs=1, batch_size=32), amp="fp16")


def test_workers_history_and_best_checkpoint(tmp_path: Path) -> None:
    model, tr, te = _tiny()
    best = tmp_path / "m.pt.best.ckpt"
    result = train(model, tr, te, Recipe(epochs=2, batch_size=32), checkpoint=tmp_path / "m.pt.ckpt", workers=2,
                   eval_each_epoch=True, best_checkpoint=best, keep="best")
    assert [h["epoch"] for h in result.history] == [1, 2]
    assert all({"loss", "train_accuracy", "lr", "test_accuracy"} <= set(h) for h in result.history)
    assert result.history[1]["lr"] < result.history[0]["lr"]  # cosine
    saved = torch.load(best, weights_only=True)
    assert saved["test_accuracy"] == max(h["test_accuracy"] for h in result.history)
    assert result.test_accuracy == pytest.approx(saved["test_accuracy"])  # --keep best kept that epoch
    for key, value in saved["model"].items():
        assert torch.equal(model.state_dict()[key], value)
