"""Loihi 2 at paper scale: the loihi2-emu emulator vs Lava, the integer reference and the float floor.

    .venv/bin/python benchmarks/emulator.py            # table
    .venv/bin/python benchmarks/emulator.py --json     # one JSON object

For full-width ``vgg11`` (3x32x32) and ResNet-17, T = 8, with weights calibrated so that every
layer fires, side by side in one run, in milliseconds per sample-step:

- **lava-sim**: Lava's CPU simulator in bit-accurate fixed point (NetX for vgg11, lava-nc
  processes for the residual graph), a few steps after compilation (its cost per step does not
  depend on the batch or on spike activity; it runs one sample at a time);
- **simulate_fixed**: snnsec's plain float64 integer reference, batched;
- **emulator (cpu)**: ``loihi2-emu`` on the CPU at ``--batch``;
- **emulator (cuda)**: the same on a CUDA GPU, when one is present;
- **float forward**: the no-grad torch forward of the same model at the same batch: the floor.

The emulator's readout and spikes are checked equal to simulate_fixed's on the reference batch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SNNSEC_PROGRESS", "0")


def _timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _timed_pair(a, b, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(_timed(a, 1))
        tb.append(_timed(b, 1))
    return statistics.median(ta), statistics.median(tb)


def lava_step_ms(fixed: Any, steps: int) -> dict[str, Any]:
    """Seconds per simulated step of one sample in lava-sim fixed point, after compilation."""
    import tempfile

    from snnsec._lava_compat import install

    install()  # before the first `import lava...`
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.source import RingBuffer

    from snnsec.backends.lava.network import netx_network, process_network
    from snnsec.backends.lava.runner import shutdown_runtime
    from snnsec.export.netx_hdf5 import check_netx_expressible, write_netx
    from snnsec.errors import InputError

    with tempfile.TemporaryDirectory() as tmp:
        try:
            check_netx_expressible(fixed)
            write_netx(fixed, Path(tmp) / "model.net")
            net = netx_network(Path(tmp) / "model.net", fixed.graph.T, fixed.message_bits)
        except InputError:
            net = process_network(fixed, "fixed")
        rng = np.random.default_rng(0)
        data = rng.integers(0, 256, size=net.input_shape + (steps + 1,)).astype(np.int32)
        source = RingBuffer(data=data)
        for port in net.inputs:
            source.s_out.connect(port)
        try:
            start = time.perf_counter()
            source.create_runtime(run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
            source.run(condition=RunSteps(num_steps=1))  # first step: weights land in the workers
            setup_s = time.perf_counter() - start
            start = time.perf_counter()
            source.run(condition=RunSteps(num_steps=steps))
            per_step = (time.perf_counter() - start) / steps
        finally:
            shutdown_runtime(source)
    return {"ms": 1000 * per_step, "builder": net.builder, "steps": steps, "setup_s": round(setup_s, 1)}


def bench_model(name: str, T: int, batch: int, ref_batch: int, lava_steps: int, repeat: int) -> dict[str, Any]:
    import torch

    from snnsec.backends.base import input_steps
    from snnsec.emulator import emulator_for
    from snnsec.export.graph import model_graph
    from snnsec.export.quantize import quantize
    from snnsec.export.reference import simulate_fixed
    from tests.emulator.models import full_width

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, 32, 32, generator=gen)
    model = full_width(name, T=T, x=x[:4])
    fixed = quantize(model_graph(model))
    msgs = torch.from_numpy(fixed.messages(input_steps(model, x)))
    rows: dict[str, Any] = {}

    emu = emulator_for(fixed, device="cpu", batch_size=batch)
    emu.run(msgs[:2])  # warm-up
    with torch.no_grad():
        model(x[:2])
        # interleaved, so a change in machine load hits both alike
        emu_s, float_s = _timed_pair(lambda: emu.run(msgs), lambda: model(x), repeat)
    rows["emulator (cpu)"] = 1000 * emu_s / (batch * T)
    rows["float forward"] = 1000 * float_s / (batch * T)
    check = emu.run(msgs[:ref_batch], record_spikes=True)
    fired = [float(s.mean()) for s in check.spikes if s is not None]

    start = time.perf_counter()
    ref = simulate_fixed(fixed, np.swapaxes(msgs[:ref_batch].numpy(), 0, 1))
    rows["simulate_fixed"] = 1000 * (time.perf_counter() - start) / (ref_batch * T)
    identical = bool(np.array_equal(check.readout, ref.readout[-1]) and all(
        s is None or np.array_equal(s, np.swapaxes(r, 0, 1)) for s, r in zip(check.spikes, ref.spikes)))

    if torch.cuda.is_available():
        cuda = emulator_for(fixed, device="cuda", batch_size=batch)
        cuda.run(msgs[:2])

        def on_cuda() -> None:
            cuda.run(msgs)
            torch.cuda.synchronize()

        rows["emulator (cuda)"] = 1000 * _timed(on_cuda, repeat) / (batch * T)
        identical = identical and bool(np.array_equal(cuda.run(msgs[:ref_batch]).readout, ref.readout[-1]))


    lava = lava_step_ms(fixed, lava_steps) if lava_steps > 0 else None
    if lava is not None:
        rows["lava-sim fixed"] = lava["ms"]
    emu_ms = rows["emulator (cpu)"]
    return {
        "model": model.meta.name if hasattr(model.meta, "name") else name,
        "architecture": name, "T": T, "batch": batch, "reference_batch": ref_batch,
        "threads": torch.get_num_threads(), "populations": len(fixed.populations),
        "ms_per_sample_step": {k: round(v, 3) for k, v in rows.items()},
        "emulator_over_float": round(emu_ms / rows["float forward"], 3),
        "simulate_fixed_over_emulator": round(rows["simulate_fixed"] / emu_ms, 1),
        "lava_over_emulator": round(lava["ms"] / emu_ms, 1) if lava else None,
        "lava": lava, "identical_to_simulate_fixed": identical,
        "firing_rate_per_layer": [round(f, 3) for f in fired],
        "plan": [{"name": p["name"], "state": p["state"],
                  "synapses": [(s["dtype"], s["pool"], s["bound"]) for s in p["synapses"]]} for p in emu.describe()],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="vgg11,resnet", help="comma-separated: vgg11, resnet (resnet17 if exportable, else resnet17-v1)")
    p.add_argument("--T", type=int, default=8, help="time steps per sample")
    p.add_argument("--batch", type=int, default=16, help="batch of the emulator and the float forward")
    p.add_argument("--ref-batch", type=int, default=2, help="batch of simulate_fixed (and of the identity check)")
    p.add_argument("--lava-steps", type=int, default=2, help="Lava steps to time after compilation (0: skip)")
    p.add_argument("--repeat", type=int, default=5, help="timed repetitions (median)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    import torch

    from tests.emulator.models import exportable_resnet

    torch.set_num_threads(args.threads)
    names = [exportable_resnet() if m.strip() == "resnet" else m.strip() for m in args.models.split(",") if m.strip()]
    results = [bench_model(n, args.T, args.batch, args.ref_batch, args.lava_steps, args.repeat) for n in names]
    out = {"cuda": torch.cuda.is_available(), "results": results}
    if args.json:
        print(json.dumps(out))
        return 0
    order = ["lava-sim fixed", "simulate_fixed", "emulator (cpu)", "emulator (cuda)", "float forward"]
    for r in results:
        rows = r["ms_per_sample_step"]
        print(f"{r['architecture']} full width, 3x32x32, T={r['T']}, batch {r['batch']}, {r['threads']} threads "
              f"(identical to simulate_fixed: {r['identical_to_simulate_fixed']})")
        print(f"  {'path':<18}{'ms/sample-step':>16}{'vs emulator':>13}")
        for k in order:
            if k in rows:
                print(f"  {k:<18}{rows[k]:>16.2f}{rows[k] / rows['emulator (cpu)']:>12.2f}x")
        if "emulator (cuda)" not in rows:
            print("  emulator (cuda)   (no CUDA device here)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
