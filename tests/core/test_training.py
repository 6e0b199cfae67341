"""STBP training: learns, and resumes after an interruption to the same result."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import Subset

from snnsec.data import get_dataset
from snnsec.models import build_model
from snnsec.training import Recipe, train


def _small(n_train: int = 320, n_test: int = 100):
    ds = get_dataset("mnist5k")
    return Subset(ds.split("train"), range(n_train)), Subset(ds.split("test"), range(n_test))


class _Interrupting(torch.utils.data.Dataset):
    """Raises KeyboardInterrupt once ``after`` samples have been read (a Ctrl-C mid-epoch)."""

    def __init__(self, inner, after: int) -> None:
        self.inner, self.after, self.reads = inner, after, 0

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i):
        self.reads += 1
        if self.reads > self.after:
            raise KeyboardInterrupt
        return self.inner[i]


def _fresh(width: float = 0.5):
    torch.manual_seed(123)
    return build_model("vgg5", num_classes=10, T=2, width=width)


@pytest.mark.slow
def test_interrupted_training_resumes_to_identical_weights(tmp_path: Path) -> None:
    # Resuming is exact at any size: a quarter-width model on 160 digits keeps the test cheap.
    train_set, test_set = _small(160, 32)
    recipe = Recipe(epochs=2, batch_size=32, seed=3)

    reference = _fresh(0.25)
    train(reference, train_set, test_set, recipe)

    ckpt = tmp_path / "run.ckpt"
    interrupted = _fresh(0.25)
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, _Interrupting(train_set, after=160 + 70), test_set, recipe, checkpoint=ckpt)
    assert ckpt.is_file()

    resumed = _fresh(0.25)
    result = train(resumed, train_set, test_set, recipe, checkpoint=ckpt)
    assert result.resumed_from_epoch == 1
    for (name, a), b in zip(reference.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, msg=f"parameter {name} differs after resume")


def test_checkpoint_of_another_recipe_is_refused(tmp_path: Path) -> None:
    from snnsec.errors import InputError

    train_set, test_set = _small(160, 32)
    ckpt = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        train(_fresh(0.25), _Interrupting(train_set, after=170), test_set, Recipe(epochs=2), checkpoint=ckpt)
    with pytest.raises(InputError, match="another recipe"):
        train(_fresh(0.25), train_set, test_set, Recipe(epochs=3), checkpoint=ckpt)


@pytest.mark.slow
def test_training_reduces_the_loss() -> None:
    train_set, test_set = _small()
    result = train(_fresh(), train_set, test_set, Recipe(epochs=3, batch_size=32, seed=0))
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.7 * losses[0]
    assert result.test_accuracy > 0.5


@pytest.mark.parametrize("encoder", ["direct", "poisson"])
def test_reported_accuracy_is_that_of_the_returned_weights(encoder: str) -> None:
    """With per-epoch evaluation the last epoch's figure is reported instead of evaluating again:
    it must equal a fresh evaluation of the weights train() returns, Poisson draws included."""
    from snnsec.evaluation.metrics import accuracy

    train_set, test_set = _small(160, 60)
    torch.manual_seed(123)
    model = build_model("vgg5", num_classes=10, T=2, width=0.25, encoder=encoder)
    result = train(model, train_set, test_set, Recipe(epochs=1, batch_size=32, seed=0), eval_each_epoch=True)
    # What the final evaluation used to compute, from the RNG state train() leaves behind.
    assert result.test_accuracy == accuracy(model, test_set)
