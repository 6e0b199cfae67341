"""Helpers for the scale tests: real ``torchrun`` processes (``python -m torch.distributed.run``
from the project's venv), a tiny untrained model and nothing downloaded."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def env(threads: int | None = None, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """This process's environment for a child: ROOT importable, no progress bars, ``threads``
    OpenMP threads if given, and without the variables named in ``drop``."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    e = {**os.environ, "SNNSEC_PROGRESS": "0", "PYTHONPATH": path}
    if threads is not None:
        e["OMP_NUM_THREADS"] = str(threads)
    for name in drop:
        e.pop(name, None)
    return e


def snnsec_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "snnsec", *args]


def torchrun_cmd(nproc: int, *args: str) -> list[str]:
    # `--` ends torchrun's own options: its parser would otherwise take `--n` as an ambiguous
    # prefix of --nnodes/--nproc-per-node (docs/scale.md)
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
            "-m", "snnsec", "--", *args]


def run(cmd: list[str], cwd: Path, timeout: float = 300, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    """``cmd`` to its end, output captured; ``threads=N`` and ``env_drop=(names)`` shape its
    environment (:func:`env`), other keywords go to subprocess.run."""
    e = env(kw.pop("threads", None), kw.pop("env_drop", ()))
    return subprocess.run(cmd, cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout, **kw)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op thread count set to ``n`` for the block, then put back."""
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(n)
        yield
    finally:
        torch.set_num_threads(before)


def in_process(args: list[str], threads: int = 1) -> subprocess.CompletedProcess:
    """Run ``snnsec ARGS`` in this process: the real CLI, without the ~2.5 CPU-s a fresh Python
    pays to import torch and snnsec (the single-process baselines need no process of their own).
    ``threads`` sets torch's thread count for the run: 1 unless a test compares one process on
    2 threads with ranks on 1 (on a busy machine, torch's extra threads spin: a 180-batch deploy
    cost 0.75 CPU-s on 1 thread, 5 on 2, and 18 on 2 with OMP_NUM_THREADS=1 in the environment,
    as tests/conftest.py sets it under xdist). The caller's RNG state is kept.
    Returns what :func:`run` returns: exit code, stdout and stderr."""
    import io

    import torch

    from snnsec.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with torch_threads(threads), torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        code = main(args)
    return subprocess.CompletedProcess(["snnsec", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained quarter-width vgg5 on MNIST-5k at T=2 with a low threshold (so it fires)."""
    import torch

    from snnsec.data import get_dataset
    from snnsec.models import build_model, save_model
    from snnsec.neurons import NeuronParameters

    torch.manual_seed(0)
    ds = get_dataset("mnist5k", None)
    model = build_model("vgg5", num_classes=len(ds.classes), input_shape=ds.sample_shape(), T=2,
                        neuron=NeuronParameters(1.0, 0.3, "hard", "triangle", 1.0), encoder="direct", width=0.25,
                        normalization=ds.normalization, dataset=ds.name, class_names=list(ds.classes))
    path = tmp_path_factory.mktemp("scale-model") / "tiny.pt"
    save_model(model, path)
    return path


@pytest.fixture(scope="session")
def trained_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quarter-width vgg5 at T=2 after 16 Adam steps on 512 MNIST-5k digits (about 4 s): it
    predicts several classes, so identical reports mean identical per-sample labels."""
    import torch

    from snnsec.data import get_dataset
    from snnsec.data.base import sample_indices, stack_samples
    from snnsec.models import build_model, save_model
    from snnsec.neurons import NeuronParameters

    torch.manual_seed(0)
    ds = get_dataset("mnist5k", None)
    x, y = stack_samples(ds.split("train"), sample_indices(len(ds.split("train")), 512))
    model = build_model("vgg5", num_classes=len(ds.classes), input_shape=ds.sample_shape(), T=2,
                        neuron=NeuronParameters(1.0, 0.3, "hard", "triangle", 1.0), encoder="direct", width=0.25,
                        normalization=ds.normalization, dataset=ds.name, class_names=list(ds.classes))
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    model.train()
    with torch_threads(1):  # the same weights in a serial run and under xdist; no spinning thread
        for step in range(16):
            batch = slice(32 * step, 32 * step + 32)
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    path = tmp_path_factory.mktemp("scale-trained") / "trained.pt"
    save_model(model.eval(), path)
    return path


@pytest.fixture(scope="session")
def poisson_tiny(trained_tiny: Path) -> Path:
    """``trained_tiny``'s weights behind a Poisson encoder at T=4: its labels depend on the seed of
    each batch's input draws, so a report that depended on the rank would show it."""
    from snnsec.models import build_model, load_model, save_model
    from snnsec.neurons import NeuronParameters

    direct = load_model(trained_tiny)
    model = build_model("vgg5", num_classes=direct.meta.num_classes, input_shape=direct.meta.input_shape, T=4,
                        neuron=NeuronParameters(1.0, 0.3, "hard", "triangle", 1.0), encoder="poisson", width=0.25,
                        dataset=direct.meta.dataset, class_names=direct.meta.class_names)
    model.load_state_dict(direct.state_dict())
    path = trained_tiny.with_name("poisson.pt")
    save_model(model.eval(), path)
    return path
