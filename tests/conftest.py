"""Shared fixtures. Nothing here downloads anything; every file is written by the tests."""

from __future__ import annotations

import os

os.environ.setdefault("SNNSEC_PROGRESS", "0")
# Under pytest-xdist (`make test` runs `-n auto`) each worker gets its share of the cores, so the
# workers do not oversubscribe them; alone, a test process uses up to 2 threads.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
_THREADS = max(1, min(2, (os.cpu_count() or 1) // _WORKERS))
if _WORKERS > 1:
    # The processes the tests start (CLI runs, torchrun ranks, Lava's workers) inherit the share
    # too: OpenMP and OpenBLAS threads of two workers' children would otherwise spin against each
    # other on the same cores. Set before torch/numpy load their thread pools; an explicit
    # setting in the environment wins.
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, str(_THREADS))

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(max(1, min(_THREADS, torch.get_num_threads())))

from snnsec.utils.malloc import tune_malloc  # noqa: E402

tune_malloc()  # as the CLI does at start-up: tests that call the library run as a command would


@pytest.fixture(scope="session", autouse=True)
def run_cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """Every test, and every process a test starts, caches under one folder of this run: never in
    the user's cache (a stale file there could change a result), and shared by the xdist workers,
    so MNIST-5k's decoded table is built once per run, not by every command a test starts.
    Tests that need a cache of their own set ``SNNSEC_CACHE_DIR`` themselves.

    The processes the tests start also get this run's folder as their ``TMPDIR``: torchrun leaves
    a ``torchelastic_*`` log folder behind at every launch, and a command ended by a repeated
    signal (which skips its cleanup on purpose) its temporary folders. They stay with the run's
    other files, which pytest prunes, instead of piling up in the machine's /tmp."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    (root / "tmp").mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SNNSEC_CACHE_DIR", str(root / "snnsec-cache"))
        mp.setenv("TMPDIR", str(root / "tmp"))
        yield root / "snnsec-cache"


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
    items[:] = _ordered(items)


def _ordered(items: list[pytest.Item]) -> list[pytest.Item]:
    """The run order: whole modules, each in its own order, longest first.

    `make test` runs pytest-xdist with ``--dist loadscope --no-loadscope-reorder``: each module
    goes to one worker as a unit, in this order, the next one to whichever worker runs low. So a
    module's fixtures (a torchrun training, a Lava run) are paid once, never twice at the same
    time on two workers. Longest first, so that no long module starts last and runs alone; the
    longest module that needs the trained demo model opens the list (its worker trains the model)
    and the longest that does not comes second (the other worker starts on it instead of waiting
    for the model). ``@pytest.mark.cost(seconds)`` on a module or
    test is its rough CPU cost under the suite (a scheduling hint; it selects nothing)."""
    def module(item: pytest.Item) -> str:
        return getattr(getattr(item, "module", None), "__name__", "")

    groups: dict[str, list[pytest.Item]] = {}
    for item in items:
        groups.setdefault(module(item), []).append(item)
    cost = {name: max((float(m.args[0]) for i in group for m in i.iter_markers("cost")), default=0.0)
            for name, group in groups.items()}
    order = sorted(groups, key=lambda name: -cost[name])  # stable: equal costs keep their order
    demo = [name for name in order if any(TRAINED & set(getattr(i, "fixturenames", ())) for i in groups[name])]
    if demo:  # the first demo module trains the model; the other worker must not wait for it
        order.remove(demo[0])
        other = next((name for name in order if name not in demo), None)
        if other is not None:
            order.remove(other)
            order[:0] = [other]
        order.insert(0, demo[0])
    return [item for name in order for item in groups[name]]


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """This process (pytest, or an xdist worker) exits next: as snnsec's own processes do
    (:mod:`snnsec.utils.process`), skip the exit's collection of everything torch, Lava and the
    tests left alive."""
    import gc

    gc.freeze()
