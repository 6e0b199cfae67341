"""``snnsec train --seed S`` fixes everything, the initial weights included."""

from __future__ import annotations

import pytest
import torch

from snnsec.cli.main import main

pytestmark = pytest.mark.slow


def weights(path) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_two_runs_with_one_seed_on_one_thread_write_identical_weights(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # on the CPU: where torch sees a GPU, --device auto would train there (cuDNN's kernels are
        # not bitwise reproducible; tests/scale/test_cuda.py covers training on a GPU)
        args = ["train", "--arch", "vgg5", "--dataset", "mnist5k", "--T", "2", "--width", "0.125",
                "--epochs", "1", "--batch-size", "200", "--device", "cpu", "--quiet"]
        for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
            assert main([*args, "--seed", seed, "--out", str(tmp_path / f"{name}.pt")]) == 0
    finally:
        torch.set_num_threads(threads)
    a, b, c = (weights(tmp_path / f"{n}.pt") for n in "abc")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)  # the seed matters: the check can fail
