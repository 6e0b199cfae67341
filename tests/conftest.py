"""Shared fixtures. Nothing here downloads anything; every file is written by the tests."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("SNNSEC_PROGRESS", "0")
# Under pytest-xdist (`make test` runs `-n auto`) each worker gets its share of the cores, so the
# workers do not oversubscribe them; alone, a test process uses up to 2 threads.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
torch.set_num_threads(max(1, min(2, (os.cpu_count() or 1) // _WORKERS, torch.get_num_threads())))


@pytest.fixture(scope="session")
def demo_training(tmp_path_factory: pytest.TempPathFactory):
    """The demo's vgg5, trained ONCE per test run through `snnsec train` with the demo's seeded
    recipe (about 20 s on 2 cores), written where `snnsec demo` looks for its cached model.
    Returns ``(path, the command's JSON result)``; CLI training tests assert on that result.

    Under pytest-xdist the workers share one copy: the first to need it trains it under a file
    lock in the run's common temporary folder, the others wait for it and read its result."""
    import json

    from filelock import FileLock

    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = tmp_path_factory.getbasetemp().parent / "demo-training"
        shared.mkdir(exist_ok=True)
        done = shared / "result.json"
        with FileLock(str(shared / "lock")):
            if not done.is_file():
                path, result = _train_demo(shared / "cache")
                done.write_text(json.dumps({"path": str(path), "result": result}))
        got = json.loads(done.read_text())
        from pathlib import Path

        return Path(got["path"]), got["result"]
    return _train_demo(tmp_path_factory.mktemp("snnsec-cache"))


def _train_demo(cache):
    import contextlib
    import io
    import json

    from snnsec import demo
    from snnsec.cli.main import main

    cache.mkdir(parents=True, exist_ok=True)
    old = os.environ.get("SNNSEC_CACHE_DIR")
    os.environ["SNNSEC_CACHE_DIR"] = str(cache)
    try:
        path = demo.demo_model_path()
        m, r = demo.DEMO_MODEL, demo.DEMO_RECIPE
        argv = ["train", "--arch", m["arch"], "--dataset", "mnist5k", "--T", str(m["T"]), "--leak", str(m["leak"]),
                "--reset", m["reset"], "--width", str(m["width"]), "--epochs", str(r["epochs"]),
                "--batch-size", str(r["batch_size"]), "--optimizer", r["optimizer"], "--lr", str(r["lr"]),
                "--seed", str(r["seed"]), "--out", str(path), "--json", "--quiet"]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(argv)
        assert code == 0, f"training the demo model failed with exit {code}"
        result = json.loads(out.getvalue())
        path2, trained_now = demo.demo_model()  # the demo must find and reuse it
        assert path2 == path and not trained_now
    finally:
        if old is None:
            os.environ.pop("SNNSEC_CACHE_DIR", None)
        else:
            os.environ["SNNSEC_CACHE_DIR"] = old
    return path, result


@pytest.fixture(scope="session")
def demo_model_path(demo_training):
    """Path of the demo model trained once per session (see :func:`demo_training`)."""
    return demo_training[0]


@pytest.fixture()
def demo_model(demo_model_path):
    """A fresh eval-mode copy of the trained demo model (tests may mutate it)."""
    import snnsec

    return snnsec.load_model(demo_model_path)


@pytest.fixture(scope="session")
def mnist_test():
    from snnsec.data import get_dataset

    return get_dataset("mnist5k").split("test")


TRAINED = {"demo_training", "demo_model_path", "demo_model"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that needs the trained demo model is slow (the model takes ~20 s to train once per
    session), so `make test-fast` (``-m "not slow"``) never trains anything."""
    for item in items:
        if TRAINED & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    # Modules with slow tests run first (each module's own order kept), so that under pytest-xdist
    # the long tests start early and the short ones fill the gaps, instead of one worker finishing
    # a long test alone at the end.
    slow_modules = {item.module.__name__ for item in items
                    if getattr(item, "module", None) is not None and item.get_closest_marker("slow")}
    items.sort(key=lambda item: getattr(getattr(item, "module", None), "__name__", "") not in slow_modules)
