"""Tiny untrained files the fuzz cases start from (built once per session, copied per case)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory: pytest.TempPathFactory, mnist_test) -> Path:  # type: ignore[no-untyped-def]
    """``m.pt`` (an untrained vgg5 at width 1/8, T=2, on MNIST-5k's shape), ``sub.pt`` (another
    one, the substitute) and ``adv.pt`` (2 samples for ``m.pt``).

    ``mnist_test`` builds the run's decoded MNIST-5k table first: a case whose command reads the
    dataset before it refuses its input (a training checkpoint is checked against the model the
    data shapes) would otherwise print the one-time "building the table" line above its refusal,
    depending on which test of the run came first."""
    from snnsec.data.adversarial import AdversarialSet, save_adversarial
    from snnsec.models import build_model, save_model
    from snnsec.utils.io import sha256_file

    folder = tmp_path_factory.mktemp("tiny")
    for name, seed in (("m.pt", 0), ("sub.pt", 1)):
        torch.manual_seed(seed)
        model = build_model("vgg5", num_classes=10, input_shape=(1, 28, 28), T=2, width=0.125, dataset="mnist5k",
                            normalization={"mean": [0.1307], "std": [0.3081]}, class_names=[str(i) for i in range(10)])
        save_model(model.eval(), folder / name)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 28, 28, generator=gen)
    x_adv = (x + 0.1 * torch.sign(torch.randn(2, 1, 28, 28, generator=gen))).clamp(0, 1)
    meta = {"attack": {"attack": "stbp-fgsm", "eps": "0.1"}, "eps": "0.1", "model_sha256": sha256_file(folder / "m.pt"),
            "black_box": False, "model_T": 2, "crafted_T": 2, "dataset": "mnist5k", "split": "test", "n": 2, "seed": 0}
    save_adversarial(folder / "adv.pt", AdversarialSet(x, x_adv, torch.tensor([3, 7]), torch.tensor([0, 1]), meta))
    return folder


@pytest.fixture()
def work(tiny_files: Path, tmp_path: Path) -> Path:
    """A fresh folder holding copies of the tiny files."""
    folder = tmp_path / "work"
    folder.mkdir()
    for name in ("m.pt", "sub.pt", "adv.pt"):
        shutil.copyfile(tiny_files / name, folder / name)
    return folder


@pytest.fixture(scope="session", autouse=True)
def _memory_guard():
    """A case that is wrongly accepted must fail, not take the shared machine's memory."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = 12 << 30
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
