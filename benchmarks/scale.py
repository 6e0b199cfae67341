"""Scale benchmarks (docs/scale.md): sharded crafting under torchrun, and the STBP training step.

1. **craft throughput**: ``snnsec craft`` in one process with one thread against
   ``torchrun --nproc-per-node 2 -m snnsec craft`` (one thread per rank, torchrun's default),
   on the same model, data and options, in one run, alternating the two so that machine load
   hits both alike (median of ``--repeats``). Throughput is samples per second of crafting as
   the command reports it (model and data loading excluded; rank 0's time includes waiting for
   the other rank and assembling the file). Every 2-rank file is checked byte-identical to the
   1-rank file.
2. **training step**: one STBP step (forward, cross-entropy on time-averaged logits, backward,
   SGD) of snnsec's VGG-11 at T = 4 and batch 16 against a plain time-folded PyTorch model
   written the way the paper's reference code writes its network: the same stateless layers on
   ``[T*B, ...]``, and a neuron that loops over T in Python with a custom autograd spike
   function (triangle surrogate, hard reset through ``u * (1 - s)``). Both models hold the same
   weights; steps alternate (median). A third model, snnsec's with the fused loop taking the
   surrogate slope from autograd (as it did before ``spike_slope``), shows what the closed form
   saves. A CUDA row is added when torch sees a GPU.

3. **deploy on lava-sim** (``--deploy`` or ``--only deploy``; ``--deploy-backend loihi2-emu``
   for the emulator): ``snnsec deploy`` in one process (one Lava runtime) against 2 torchrun
   ranks (one runtime each), alternating;
   every 2-rank report is checked equal to the 1-rank report apart from its run-specific fields.

Run: ``python benchmarks/scale.py [--json] [--repeats 3] [--n 96] [--width 1.0]``; the demo's training
step: ``--only train --train-arch vgg5 --train-batch 64``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]


# -- 1. craft throughput --------------------------------------------------------------------------
def _tiny_model(path: Path, width: float) -> None:
    from snnsec.data import get_dataset
    from snnsec.models import build_model, save_model
    from snnsec.neurons import NeuronParameters

    torch.manual_seed(0)
    ds = get_dataset("mnist5k", None)
    model = build_model("vgg5", num_classes=len(ds.classes), input_shape=ds.sample_shape(), T=4,
                        neuron=NeuronParameters(1.0, 0.3, "hard", "triangle", 1.0), encoder="direct", width=width,
                        normalization=ds.normalization, dataset=ds.name, class_names=list(ds.classes))
    save_model(model, path)


def _craft_once(ranks: int, model: Path, out: Path, n: int, batch: int) -> dict[str, Any]:
    args = ["craft", "--model", str(model), "--attack", "rga-pgd", "--steps", "5", "--n", str(n),
            "--batch-size", str(batch), "--device", "cpu", "--out", str(out), "--json", "--quiet"]
    return _snnsec_once(ranks, args, out)


def _snnsec_once(ranks: int, args: list[str], out: Path) -> dict[str, Any]:
    """Run ``snnsec *args`` in 1 process or under torchrun with ``ranks``, one thread per rank."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SNNSEC_PROGRESS": "0", "PYTHONPATH": str(ROOT)}
    if ranks == 1:
        cmd = [sys.executable, "-m", "snnsec", *args]
    else:  # `--` ends torchrun's options (its parser would take --n for a prefix of --nnodes)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(ranks),
               "-m", "snnsec", "--", *args]
    start = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=out.parent)
    wall = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} ... failed:\n{r.stderr[-2000:]}")
    result = json.loads([line for line in r.stdout.splitlines() if line.strip()][-1])
    return {"seconds": result["seconds"], "wall": wall, "bytes": out.read_bytes(), "result": result}


def _alternate(width: float, repeats: int, once: Callable[[Path, int], dict[str, Any]]
               ) -> tuple[dict[int, list[float]], dict[int, list[float]], bool]:
    """``once(model, ranks)`` for 1 and 2 ranks in turn, ``repeats`` times, on one tiny model.
    ``once`` returns ``seconds``, ``wall`` and ``same`` (what every run must reproduce). Returns
    the seconds and wall times per rank count, and whether every ``same`` was equal."""
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model.pt"
        _tiny_model(model, width)
        times: dict[int, list[float]] = {1: [], 2: []}
        walls: dict[int, list[float]] = {1: [], 2: []}
        reference: Any = None
        identical = True
        for _ in range(repeats):
            for ranks in (1, 2):
                got = once(model, ranks)
                times[ranks].append(got["seconds"])
                walls[ranks].append(got["wall"])
                reference = got["same"] if reference is None else reference
                identical &= got["same"] == reference
    return times, walls, identical


def craft_rows(n: int, batch: int, width: float, repeats: int) -> dict[str, Any]:
    def once(model: Path, ranks: int) -> dict[str, Any]:
        out = model.parent / f"adv-{ranks}.pt"
        got = _craft_once(ranks, model, out, n, batch)
        out.unlink()
        return {**got, "same": got["bytes"]}

    times, walls, identical = _alternate(width, repeats, once)
    s1, s2 = statistics.median(times[1]), statistics.median(times[2])
    return {
        "setup": f"vgg5 width {width}, T=4, rga-pgd 5 steps, n={n}, batch {batch}, MNIST-5k, CPU, 1 thread per rank",
        "rows": [
            {"ranks": 1, "threads_per_rank": 1, "seconds": s1, "samples_per_s": n / s1, "wall_s": statistics.median(walls[1]),
             "all_seconds": times[1]},
            {"ranks": 2, "threads_per_rank": 1, "seconds": s2, "samples_per_s": n / s2, "wall_s": statistics.median(walls[2]),
             "all_seconds": times[2]},
        ],
        "speedup": s1 / s2,
        "speedup_best": min(times[1]) / min(times[2]),  # best-of-repeats: least disturbed by other load
        "byte_identical": identical,
    }


# -- 3. deploy on lava-sim (optional: --deploy) ---------------------------------------------------
def deploy_rows(n: int, batch: int, width: float, repeats: int, backend: str = "lava-sim") -> dict[str, Any]:
    """``snnsec deploy --backend lava-sim`` (or loihi2-emu) in one process (one Lava runtime)
    against 2 torchrun ranks (one runtime each, on half the batches), alternating; the report's
    ``seconds`` is rank 0's wall time of the predictions (waiting for the other rank included),
    start-up excluded."""
    from snnsec.backends.batched import RUN_SPECIFIC_INFO

    def comparable(report: dict[str, Any]) -> str:
        report = {k: v for k, v in report.items() if k != "seconds"}
        report["backend_info"] = {k: v for k, v in report["backend_info"].items() if k not in RUN_SPECIFIC_INFO}
        return json.dumps(report)

    def once(model: Path, ranks: int) -> dict[str, Any]:
        out = model.parent / f"deploy-{ranks}.json"
        args = ["deploy", "--model", str(model), "--backend", backend, "--n", str(n), "--eval-batch-size",
                str(batch), "--device", "cpu", "--out", str(out), "--json", "--quiet"]
        got = _snnsec_once(ranks, args, out)
        out.unlink()
        return {**got, "same": comparable(got["result"])}

    times, walls, identical = _alternate(width, repeats, once)
    s1, s2 = statistics.median(times[1]), statistics.median(times[2])
    return {
        "setup": f"deploy {backend} (fixed point), vgg5 width {width}, T=4, n={n} clean MNIST-5k digits, batch {batch}, "
                 "CPU, 1 thread per rank" + (", one Lava runtime per rank" if backend == "lava-sim" else ""),
        "rows": [{"ranks": r, "threads_per_rank": 1, "seconds": s, "samples_per_s": n / s,
                  "wall_s": statistics.median(walls[r]), "all_seconds": times[r]} for r, s in ((1, s1), (2, s2))],
        "speedup": s1 / s2,
        "speedup_best": min(times[1]) / min(times[2]),
        "identical_reports": identical,  # apart from seconds, samples/s and lava-sim's steps
    }


# -- 2. training step -----------------------------------------------------------------------------
class _TriangleSpike(torch.autograd.Function):
    """H(v) forward; (1/g^2) * max(0, g - |v|) backward (the reference code's surrogate, g = 1)."""

    @staticmethod
    def forward(ctx: Any, v: torch.Tensor, gamma: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(v)
        ctx.gamma = gamma
        return (v >= 0).to(v.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (v,) = ctx.saved_tensors
        g = ctx.gamma
        return grad * (g - v.abs()).clamp(min=0) / (g * g), None


class PlainNeuron(nn.Module):
    """The reference code's way: time folded into the batch outside, a Python loop over T inside."""

    def __init__(self, T: int, theta: float = 1.0, leak: float = 1.0, gamma: float = 1.0) -> None:
        super().__init__()
        self.T, self.theta, self.leak, self.gamma = T, theta, leak, gamma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = x.unflatten(0, (self.T, -1))
        u = torch.zeros_like(seq[0])
        out = []
        for t in range(self.T):
            u = self.leak * u + seq[t]
            s = _TriangleSpike.apply(u - self.theta, self.gamma)
            u = u * (1 - s)  # hard reset, not detached
            out.append(s)
        return torch.stack(out).flatten(0, 1)


class PlainModel(nn.Module):
    """snnsec's stateless layers (copied, same weights) with :class:`PlainNeuron` for every LIF."""

    def __init__(self, model: Any, T: int) -> None:
        super().__init__()
        from snnsec.neurons import LIF

        layers = []
        for layer in model.body.children():
            if isinstance(layer, LIF):
                layers.append(PlainNeuron(T, layer.p.theta, layer.p.leak, layer.p.gamma))
            else:
                layers.append(copy.deepcopy(layer))
        self.net = nn.Sequential(*layers)
        self.T = T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = x.unsqueeze(0).expand(self.T, *x.shape).flatten(0, 1)  # direct input, repeated T times
        return self.net(seq).unflatten(0, (self.T, -1)).mean(0)


def _autograd_slope_twin(model: Any) -> Any:
    """A copy of ``model`` whose neurons override ``fire`` with the same body: the fused loop then
    takes the surrogate slope from autograd through ``fire`` instead of the closed form."""
    from snnsec.neurons import LIF

    twin = copy.deepcopy(model)
    for layer in twin.modules():
        if isinstance(layer, LIF):
            base = type(layer.neuron)
            layer.neuron.__class__ = type(f"{base.__name__}AutogradSlope", (base,),
                                          {"fire": lambda self, u, base=base: base.fire(self, u)})
    return twin


def _step_timer(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device):  # type: ignore[no-untyped-def]
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def step() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    return step


TRAIN_INPUTS = {"vgg11": (3, 32, 32), "vgg5": (1, 28, 28)}  # CIFAR-10's images, MNIST-5k's digits (the demo)


def train_step_rows(width: float, repeats: int, devices: list[str], arch: str = "vgg11", B: int = 16) -> dict[str, Any]:
    from snnsec.models import build_model
    from snnsec.neurons import NeuronParameters

    T, shape = 4, TRAIN_INPUTS[arch]
    rows = []
    for name in devices:
        device = torch.device(name)
        torch.manual_seed(0)
        model = build_model(arch, num_classes=10, input_shape=shape, T=T,
                            neuron=NeuronParameters(1.0, 1.0, "hard", "triangle", 1.0), encoder="direct", width=width)
        plain, autograd_slope = PlainModel(model, T), _autograd_slope_twin(model)
        for m in (model, plain, autograd_slope):
            m.to(device).train()
        x = torch.rand(B, *shape, device=device)
        y = torch.randint(0, 10, (B,), device=device)
        steps = {"snnsec": _step_timer(model, x, y, device), "plain": _step_timer(plain, x, y, device),
                 "autograd_slope": _step_timer(autograd_slope, x, y, device)}
        for s in steps.values():
            s()  # warm-up
        times: dict[str, list[float]] = {k: [] for k in steps}
        for _ in range(repeats):
            for k, s in steps.items():
                times[k].append(s())
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append({"device": name, "threads": torch.get_num_threads() if device.type == "cpu" else None,
                     "snnsec_s": med["snnsec"], "plain_s": med["plain"], "ratio": med["snnsec"] / med["plain"],
                     "ratio_best": min(times["snnsec"]) / min(times["plain"]),
                     "autograd_slope_s": med["autograd_slope"],
                     "closed_slope_speedup": med["autograd_slope"] / med["snnsec"],
                     "all_snnsec_s": times["snnsec"], "all_plain_s": times["plain"],
                     "all_autograd_slope_s": times["autograd_slope"]})
    return {"setup": f"{arch} width {width}, {'x'.join(map(str, shape))}, T={T}, batch {B}, SGD step, "
                     f"median of {repeats} alternating",
            "rows": rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--repeats", type=int, default=3, help="alternating repeats (median)")
    p.add_argument("--n", type=int, default=480, help="samples to craft")
    p.add_argument("--batch", type=int, default=8, help="craft batch size")
    p.add_argument("--craft-width", type=float, default=0.5, help="vgg5 width for the craft rows")
    p.add_argument("--width", type=float, default=1.0, help="model width for the training-step rows")
    p.add_argument("--train-arch", choices=sorted(TRAIN_INPUTS), default="vgg11",
                   help="model of the training-step rows (vgg5: the demo's, on 1x28x28 digits)")
    p.add_argument("--train-batch", type=int, default=16, help="batch of the training-step rows")
    p.add_argument("--only", choices=("craft", "train", "deploy"), default=None, help="run one part only")
    p.add_argument("--deploy", action="store_true", help="add the deploy rows (lava-sim, 1 rank against 2)")
    p.add_argument("--deploy-n", type=int, default=96, help="samples for the deploy rows")
    p.add_argument("--deploy-batch", type=int, default=16, help="deploy --eval-batch-size")
    p.add_argument("--deploy-backend", choices=("lava-sim", "loihi2-emu"), default="lava-sim",
                   help="backend of the deploy rows")
    args = p.parse_args(argv)
    os.environ.setdefault("SNNSEC_PROGRESS", "0")
    sys.path.insert(0, str(ROOT))
    result: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "torch": torch.__version__,
                                          "cuda_devices": torch.cuda.device_count()}}
    if args.only in (None, "craft"):
        result["craft"] = craft_rows(args.n, args.batch, args.craft_width, args.repeats)
    if args.only == "deploy" or (args.only is None and args.deploy):
        result["deploy"] = deploy_rows(args.deploy_n, args.deploy_batch, args.craft_width, args.repeats,
                                       args.deploy_backend)
    if args.only in (None, "train"):
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        result["train_step"] = train_step_rows(args.width, args.repeats, devices, args.train_arch, args.train_batch)
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
        return 0
    for part, title, same in (("craft", "craft throughput", "byte-identical files"), ("deploy", "\ndeploy", "identical reports")):
        if part not in result:
            continue
        c = result[part]
        print(f"{title} ({c['setup']})")
        print("ranks  threads/rank  seconds  samples/s  wall s")
        for r in c["rows"]:
            print(f"{r['ranks']:>5}  {r['threads_per_rank']:>12}  {r['seconds']:>7.2f}  {r['samples_per_s']:>9.2f}  {r['wall_s']:>6.1f}")
        print(f"speedup 2 ranks / 1 rank: {c['speedup']:.2f}x (median), {c['speedup_best']:.2f}x (best of each); "
              f"{same}: {c['byte_identical' if part == 'craft' else 'identical_reports']}")
    if "train_step" in result:
        t = result["train_step"]
        print(f"\ntraining step ({t['setup']})")
        print("device  snnsec s  plain s  snnsec/plain (median)  (best of each)  autograd-slope s  autograd-slope/snnsec")
        for r in t["rows"]:
            print(f"{r['device']:<6}  {r['snnsec_s']:>8.3f}  {r['plain_s']:>7.3f}  {r['ratio']:>21.2f}  {r['ratio_best']:>14.2f}"
                  f"  {r['autograd_slope_s']:>16.3f}  {r['closed_slope_speedup']:>20.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
