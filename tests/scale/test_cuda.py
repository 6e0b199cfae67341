"""On a CUDA GPU: every command runs with ``--device cuda``, and what the arithmetic promises to be
equal to the CPU is equal.

Skipped where torch sees no CUDA device (CI has none). On a GPU machine:
``pytest tests/scale/test_cuda.py``. What is compared:

- the Loihi 2 emulator on CUDA against the integer reference, spike for spike (it is exact
  integer arithmetic, so the device must not matter);
- every gradient estimator on CUDA against the same estimator on the CPU, in float64;
- every estimator x optimizer on CUDA stays inside its eps-ball and the input domain;
- the fused training loop on CUDA against the per-step loop;
- each command with ``--device cuda``: it succeeds, writes files the CPU reads, and where the
  result is integer arithmetic (loihi2-emu) it equals the CPU's report.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from snnsec.attacks import GRADIENTS, OPTIMIZERS, AttackSpec
from snnsec.attacks.gradients import build_estimator
from snnsec.attacks.losses import cross_entropy
from tests.scale.conftest import in_process

pytestmark = [pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
              pytest.mark.cost(5)]

CUDA = "cuda"


# -- the emulator: exact on any device ----------------------------------------------------------
def _emulator_cases():  # type: ignore[no-untyped-def]
    from tests.emulator.test_emulator_exact import CASES

    return CASES


@pytest.mark.parametrize("case", ["event frames", "conv chain, poisson", "leak 0.5, graded direct", "soft reset",
                                  "residual, soft, leak 0.9", "residual, direct"])
def test_emulator_on_cuda_equals_the_integer_reference(case: str) -> None:
    from snnsec.backends.base import input_steps
    from snnsec.emulator import emulator_for
    from snnsec.export.graph import model_graph
    from snnsec.export.quantize import quantize
    from tests.emulator.test_emulator_exact import _compare

    model = _emulator_cases()[case]()
    gen = torch.Generator().manual_seed(0)
    shape = model.meta.input_shape
    x = torch.rand(5, *shape, generator=gen)
    fixed = quantize(model_graph(model))
    msgs = fixed.messages(input_steps(model, x))
    assert _compare(fixed, msgs, emulator_for(fixed, device=CUDA, batch_size=2)) > 0


@pytest.mark.parametrize("name", ["vgg11", "resnet"])
def test_paper_size_models_on_cuda_equal_the_reference(name: str) -> None:
    from snnsec.backends.base import input_steps
    from snnsec.emulator import emulator_for
    from snnsec.export.graph import model_graph
    from snnsec.export.quantize import quantize
    from tests.emulator.models import exportable_resnet, full_width
    from tests.emulator.test_emulator_exact import _compare

    name = exportable_resnet() if name == "resnet" else name
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    model = full_width(name, T=2, x=x)
    fixed = quantize(model_graph(model))
    msgs = fixed.messages(input_steps(model, x))
    assert _compare(fixed, msgs, emulator_for(fixed, device=CUDA)) > 0


# -- gradients and attacks ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def active64(mnist_test):  # type: ignore[no-untyped-def]
    """An untrained quarter-width vgg5 in float64 whose layers all fire, and 8 digits."""
    from snnsec.models import build_model
    from tests.attacks.helpers import batch, make_active

    x, y = batch(mnist_test, 8)
    torch.manual_seed(0)
    model = build_model("vgg5", num_classes=10, input_shape=(1, 28, 28), T=3, width=0.25).double().eval()
    make_active(model, x.double())
    return model, x.double(), y


def _gradient(name: str, model, x, y, device: str, seed: int):  # type: ignore[no-untyped-def]
    est = build_estimator(name)
    model = model.to(device)
    with est.applied(model):
        g = est.gradient(model, x.to(device), y.to(device), cross_entropy,
                         torch.Generator(device=device).manual_seed(seed))
    return g.cpu()


@pytest.mark.parametrize("gradient", sorted(GRADIENTS))
def test_every_gradient_on_cuda_equals_the_cpu_gradient(gradient: str, active64) -> None:  # type: ignore[no-untyped-def]
    model, x, y = active64
    on_cpu = _gradient(gradient, copy.deepcopy(model), x, y, "cpu", 0)
    on_cuda = _gradient(gradient, copy.deepcopy(model), x, y, CUDA, 0)
    assert on_cuda.shape == x.shape and torch.isfinite(on_cuda).all()
    assert on_cuda.abs().sum() > 0
    if torch.equal(on_cpu, _gradient(gradient, copy.deepcopy(model), x, y, "cpu", 1)):
        # deterministic: float64 on both devices, so only the summation order differs
        torch.testing.assert_close(on_cuda, on_cpu, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("gradient", sorted(GRADIENTS))
def test_every_attack_on_cuda_stays_in_the_eps_ball(gradient: str, optimizer: str, active64) -> None:  # type: ignore[no-untyped-def]
    model, x, y = active64
    model = copy.deepcopy(model).float().to(CUDA)
    x, y = x.float().to(CUDA), y.to(CUDA)
    has_steps = "steps" in OPTIMIZERS[optimizer].__dataclass_fields__
    spec = AttackSpec(f"{gradient}-{optimizer}", eps="0.1", steps=2 if has_steps else None)
    x_adv = spec.build()(model, x, y, torch.Generator(device=CUDA).manual_seed(0))
    assert x_adv.device.type == "cuda" and x_adv.shape == x.shape
    delta = (x_adv.double() - x.double()).abs()
    assert float(delta.max()) <= 0.1
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    assert float(delta.max()) > 0.05


@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_fused_training_loop_on_cuda_equals_the_per_step_loop(reset: str) -> None:
    from snnsec.neurons import LIF, NeuronParameters
    from tests.core.test_neuron_fused import _assert_fused_gradient_is_per_steps

    layer = LIF(NeuronParameters(leak=0.75, theta=0.5, reset=reset)).train().to(CUDA)
    x = torch.rand(8, 16, 40, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 1.2 - 0.2
    _assert_fused_gradient_is_per_steps(layer, x.to(CUDA))


# -- the commands --------------------------------------------------------------------------------
def _ok(args: list[str]) -> dict:  # type: ignore[type-arg]
    r = in_process([*args, "--json", "--quiet"], threads=2)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_train_on_cuda_with_amp_writes_a_model_the_cpu_reads(tmp_path: Path) -> None:
    from snnsec.models import load_model

    for amp in ("off", "bf16"):
        out = tmp_path / f"m-{amp}.pt"
        got = _ok(["train", "--width", "0.25", "--T", "2", "--epochs", "1", "--batch-size", "64", "--seed", "0",
                   "--amp", amp, "--device", CUDA, "--out", str(out)])
        assert got["test_accuracy"] > 0.5, got  # one epoch at quarter width: it learned (chance is 0.1)
        model = load_model(out)
        assert all(p.device.type == "cpu" for p in model.parameters())
        assert abs(model.meta.test_accuracy - got["test_accuracy"]) < 1e-12


def test_craft_evaluate_deploy_and_analyze_on_cuda(trained_tiny: Path, tmp_path: Path) -> None:
    from snnsec.data.adversarial import load_adversarial

    model = str(trained_tiny)
    adv = tmp_path / "adv.pt"
    crafted = _ok(["craft", "--model", model, "--attack", "rga-pgd", "--eps", "0.1", "--n", "64",
                   "--batch-size", "32", "--device", CUDA, "--out", str(adv)])
    assert crafted["n"] == 64
    a = load_adversarial(adv)
    assert a.x_adv.device.type == "cpu"
    assert float((a.x_adv.double() - a.x.double()).abs().max()) <= 0.1
    assert float((a.x_adv.double() - a.x.double()).abs().max()) > 0.05

    on = {d: _ok(["evaluate", "--model", model, "--adv", str(adv), "--device", d]) for d in ("cpu", CUDA)}
    assert on[CUDA]["n"] == on["cpu"]["n"] == 64
    assert abs(on[CUDA]["asr"] - on["cpu"]["asr"]) <= 2 / 64, on  # float32 on two devices: a rare flip

    emu = {d: _ok(["deploy", "--model", model, "--backend", "loihi2-emu", "--adv", str(adv), "--device", d])
           for d in ("cpu", CUDA)}
    for key in ("clean_accuracy", "asr_backend", "n"):  # integer arithmetic: the device cannot matter
        assert emu[CUDA][key] == emu["cpu"][key], (key, emu)

    _ok(["deploy", "--model", model, "--backend", "torch", "--adv", str(adv), "--device", CUDA])
    suite = {d: _ok(["evaluate", "--model", model, "--suite", "reliable", "--n", "16", "--budget", "20",
                     "--device", d]) for d in ("cpu", CUDA)}
    assert suite[CUDA]["n"] == 16 and suite[CUDA]["masking"]["n"] == 16
    assert abs(suite[CUDA]["clean_accuracy"] - suite["cpu"]["clean_accuracy"]) <= 1 / 16  # a rare flip
    assert suite[CUDA]["robust_accuracy"] <= suite[CUDA]["clean_accuracy"]
    shuffle = _ok(["analyze", "shuffle", "--model", model, "--n", "64", "--runs", "2", "--device", CUDA])
    assert 0.0 <= shuffle["shuffled_accuracy"] <= 1.0


def test_poisson_model_crafts_on_cuda(poisson_tiny: Path, tmp_path: Path) -> None:
    from snnsec.data.adversarial import load_adversarial

    adv = tmp_path / "adv.pt"
    _ok(["craft", "--model", str(poisson_tiny), "--attack", "stbp-pgd", "--eps", "0.1", "--n", "16",
         "--device", CUDA, "--out", str(adv)])
    a = load_adversarial(adv)
    assert float((a.x_adv.double() - a.x.double()).abs().max()) <= 0.1
    emu = _ok(["deploy", "--model", str(poisson_tiny), "--backend", "loihi2-emu", "--adv", str(adv),
               "--device", CUDA])
    assert emu["n"] == 16
    assert np.isfinite(emu["clean_accuracy"])


def test_a_seeded_poisson_encoder_draws_the_same_spikes_on_cuda() -> None:
    from snnsec.encoders.poisson import PoissonEncoder

    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    on_cpu = PoissonEncoder(seed=7).encode(x, 5)
    on_cuda = PoissonEncoder(seed=7).encode(x.to(CUDA), 5)
    assert on_cuda.device.type == "cuda"
    assert torch.equal(on_cuda.cpu(), on_cpu) and 0 < float(on_cpu.mean()) < 1


@pytest.mark.parametrize("budget", [0, 40])
def test_sparse_attack_on_cuda_stays_within_its_l0_budget(budget: int) -> None:
    from snnsec.attacks.sparse import SparseDifferentialAttack
    from snnsec.models import build_model
    from tests.attacks.helpers import make_active

    torch.manual_seed(0)
    model = build_model("vggdvs", num_classes=10, input_shape=(4, 2, 48, 48), T=4, encoder="frames", width=0.125).eval()
    x = (torch.rand(3, 4, 2, 48, 48, generator=torch.Generator().manual_seed(0)) < 0.05).float()
    make_active(model, x)
    model, x = model.to(CUDA), x.to(CUDA)
    with torch.no_grad():
        y = model(x).argmax(1)
    sda = SparseDifferentialAttack(budget=budget, k_init=5, iterations=4)
    x_adv = sda(model, x, y, torch.Generator(device=CUDA).manual_seed(0))
    assert x_adv.device.type == "cuda"
    assert int(sda.threat_for(model).changes(x_adv, x).max()) <= budget
    assert set(x_adv.unique().tolist()) <= {0.0, 1.0}


def test_more_torchrun_ranks_than_gpus_are_refused_in_one_line(tiny_model: Path, tmp_path: Path) -> None:
    """nccl needs a GPU per rank: a node with one rank more than it has GPUs stops before any rank
    joins the group, with the one line, and writes nothing."""
    from tests.scale.conftest import run, torchrun_cmd

    gpus = torch.cuda.device_count()
    out = tmp_path / "adv.pt"
    r = run(torchrun_cmd(gpus + 1, "craft", "--model", str(tiny_model), "--attack", "rga-fgsm", "--n", "4",
                         "--device", "cuda", "--out", str(out), "--quiet"), cwd=tmp_path, timeout=120)
    assert r.returncode != 0
    line = (f"snnsec: error: torchrun started {gpus + 1} ranks on this node but torch sees {gpus} CUDA device(s), "
            f"and each rank needs its own GPU; use --nproc-per-node {gpus} or --device cpu")
    assert line in r.stderr.splitlines(), r.stderr[-2000:]  # torchrun may stop a rank before it prints
    assert not out.exists()
