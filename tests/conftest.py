"""Shared fixtures. Nothing here downloads anything; every file is written by the tests."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("SNNSEC_PROGRESS", "0")
torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


@pytest.fixture(scope="session")
def demo_model_path(tmp_path_factory: pytest.TempPathFactory):
    """The demo's vgg5 trained on MNIST-5k (about 20 s on 2 cores), trained once per session."""
    from snnsec import demo

    cache = tmp_path_factory.mktemp("snnsec-cache")
    old = os.environ.get("SNNSEC_CACHE_DIR")
    os.environ["SNNSEC_CACHE_DIR"] = str(cache)
    try:
        path, _ = demo.demo_model()
    finally:
        if old is None:
            os.environ.pop("SNNSEC_CACHE_DIR", None)
        else:
            os.environ["SNNSEC_CACHE_DIR"] = old
    return path


@pytest.fixture()
def demo_model(demo_model_path):
    """A fresh eval-mode copy of the trained demo model (tests may mutate it)."""
    import snnsec

    return snnsec.load_model(demo_model_path)


@pytest.fixture(scope="session")
def mnist_test():
    from snnsec.data import get_dataset

    return get_dataset("mnist5k").split("test")
