"""Lava throughput: one runtime per sample vs. samples streamed through one runtime, and vgg11 cost,
each with Lava's own convolution (``conv_scipy``) and with snnsec's exact one (``snnsec._lava_conv``).

    .venv/bin/python benchmarks/lava_streaming.py            # table
    .venv/bin/python benchmarks/lava_streaming.py --json     # one JSON object

On the MNIST-5k vgg5 demo model (trained on first use, then cached; see ``snnsec demo``), in
bit-accurate fixed point through lava-dl NetX on Lava's CPU simulator:

(a) one runtime per sample: build, compile, start, run T + latency steps, stop, for each sample;
(b) N samples streamed back to back through one runtime (``reset_interval=T``), N*T + latency steps.

Both produce the same predictions (checked). Then seconds per simulated step of a full-width
vgg11 on 3x32x32 (untrained weights: Lava's cost per step does not depend on spike activity),
measured over a few steps after compilation.

(c) the stream of (b) and the vgg11 steps again, with ``SNNSEC_LAVA_SCIPY_CONV=1``: Lava's
convolution as shipped (one scipy ``convolve2d`` per channel pair). The table gives both and the
ratio, and checks that the stream's readouts are identical. The same stream in float precision
(Lava's floating_pt models, where snnsec's convolution sums in another order) adds a row: its
labels must be identical and its readouts equal to float64 rounding (the largest relative
difference is printed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import sys
import time
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SNNSEC_PROGRESS", "0")


def streaming(n_stream: int, n_single: int) -> dict[str, Any]:
    import snnsec
    from snnsec.backends.base import input_steps
    from snnsec.backends.lava_sim import LavaSimBackend
    from snnsec.data import get_dataset
    from snnsec.demo import demo_model

    path, _ = demo_model()
    model = snnsec.load_model(path)
    test = get_dataset("mnist5k").split("test")
    steps = input_steps(model, test.x[:n_stream])  # type: ignore[attr-defined]
    backend = LavaSimBackend(model, precision="fixed", show_progress=False)

    start = time.perf_counter()
    singles = [backend.run_steps(steps[i:i + 1])[0] for i in range(n_single)]
    single_s = time.perf_counter() - start

    start = time.perf_counter()
    stream_pred, result = backend.run_steps(steps)
    stream_s = time.perf_counter() - start

    same = all(np.array_equal(p.scores[0], stream_pred.scores[i]) for i, p in enumerate(singles))
    per_sample = n_single / single_s
    streamed = n_stream / stream_s
    return {
        "model": "vgg5 MNIST-5k demo (T=%d, latency %d steps)" % (model.T, result.steps - n_stream * model.T),
        "builder": backend.builder,
        "one_runtime_per_sample": {"samples": n_single, "seconds": round(single_s, 2),
                                   "samples_per_s": round(per_sample, 3)},
        "streamed_one_runtime": {"samples": n_stream, "seconds": round(stream_s, 2),
                                 "samples_per_s": round(streamed, 3), "steps": result.steps},
        "speedup": round(streamed / per_sample, 2),
        "identical_outputs": same,
    }


@contextlib.contextmanager
def lava_conv(which: str) -> Iterator[None]:
    """Run Lava with snnsec's exact convolution (``"snnsec"``) or Lava's own (``"lava"``)."""
    old = os.environ.get("SNNSEC_LAVA_SCIPY_CONV")
    os.environ["SNNSEC_LAVA_SCIPY_CONV"] = "1" if which == "lava" else "0"  # read by the forked workers
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SNNSEC_LAVA_SCIPY_CONV", None)
        else:
            os.environ["SNNSEC_LAVA_SCIPY_CONV"] = old


def stream_readout(n: int, precision: str = "fixed") -> tuple[np.ndarray, float]:
    """The demo model's first ``n`` test digits streamed through one runtime: readout, seconds."""
    import snnsec
    from snnsec.backends.base import input_steps
    from snnsec.backends.lava_sim import LavaSimBackend
    from snnsec.data import get_dataset
    from snnsec.demo import demo_model

    model = snnsec.load_model(demo_model()[0])
    steps = input_steps(model, get_dataset("mnist5k").split("test").x[:n])  # type: ignore[attr-defined]
    backend = LavaSimBackend(model, precision=precision, show_progress=False)
    start = time.perf_counter()
    pred, _ = backend.run_steps(steps)
    return pred.scores, time.perf_counter() - start


def vgg11_step_cost(steps: int) -> dict[str, Any]:
    from snnsec._lava_compat import install

    install()  # before the first `import lava...`
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.source import RingBuffer

    from snnsec.backends.lava.network import netx_network
    from snnsec.backends.lava.runner import shutdown_runtime
    from snnsec.export.graph import model_graph
    from snnsec.export.netx_hdf5 import write_netx
    from snnsec.export.quantize import quantize
    from snnsec.models import build_model

    model = build_model("vgg11", num_classes=10, input_shape=(3, 32, 32), T=8).eval()
    start = time.perf_counter()
    fixed = quantize(model_graph(model))
    with tempfile.TemporaryDirectory() as tmp:
        write_netx(fixed, Path(tmp) / "vgg11.net")
        export_s = time.perf_counter() - start
        net = netx_network(Path(tmp) / "vgg11.net", model.T, fixed.message_bits)
        rng = np.random.default_rng(0)
        data = rng.integers(0, 256, size=net.input_shape + (steps + 1,)).astype(np.int32)
        source = RingBuffer(data=data)
        source.s_out.connect(net.inputs[0])
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
    return {"model": "vgg11 full width, 3x32x32, %d Lava layers" % len(fixed.populations),
            "export_s": round(export_s, 1), "compile_and_first_step_s": round(setup_s, 1),
            "steps_measured": steps, "seconds_per_step": round(per_step, 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=50, help="samples streamed through one runtime")
    p.add_argument("--single", type=int, default=10, help="samples run with one runtime each")
    p.add_argument("--vgg11-steps", type=int, default=3, help="vgg11 steps to time (0: skip)")
    p.add_argument("--no-scipy", action="store_true",
                   help="skip the runs with Lava's own convolution (slow: about 10x on vgg5, more on vgg11)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if not 1 <= args.single <= args.n:
        p.error(f"--single must lie in [1, --n]; got {args.single}")
    with lava_conv("snnsec"):
        result: dict[str, Any] = {"streaming": streaming(args.n, args.single)}
        if args.vgg11_steps > 0:
            result["vgg11"] = vgg11_step_cost(args.vgg11_steps)
    if not args.no_scipy:
        conv: dict[str, Any] = {}
        readouts, floats = {}, {}
        for which in ("lava", "snnsec"):
            with lava_conv(which):
                readouts[which], seconds = stream_readout(args.n)
                floats[which], float_s = stream_readout(args.n, "float")
                conv[which] = {"stream_s": round(seconds, 2), "float_stream_s": round(float_s, 2)}
                if args.vgg11_steps > 0:
                    conv[which]["vgg11_s_per_step"] = vgg11_step_cost(args.vgg11_steps)["seconds_per_step"]
        conv["identical_readouts"] = bool(np.array_equal(readouts["lava"], readouts["snnsec"]))
        conv["stream_speedup"] = round(conv["lava"]["stream_s"] / conv["snnsec"]["stream_s"], 2)
        conv["float_stream_speedup"] = round(conv["lava"]["float_stream_s"] / conv["snnsec"]["float_stream_s"], 2)
        conv["float_identical_labels"] = bool(np.array_equal(floats["lava"].argmax(-1), floats["snnsec"].argmax(-1)))
        conv["float_max_relative_difference"] = float(np.abs(floats["lava"] - floats["snnsec"]).max()
                                                      / max(float(np.abs(floats["lava"]).max()), 1e-300))
        if args.vgg11_steps > 0:
            conv["vgg11_speedup"] = round(conv["lava"]["vgg11_s_per_step"] / conv["snnsec"]["vgg11_s_per_step"], 1)
        result["conv"] = conv
    if args.json:
        print(json.dumps(result))
        return 0
    s = result["streaming"]
    a, b = s["one_runtime_per_sample"], s["streamed_one_runtime"]
    print(f"{s['model']}, lava-sim fixed point via {s['builder']}")
    print(f"{'mode':<34}{'samples':>8}{'seconds':>9}{'samples/s':>11}")
    print(f"{'(a) one runtime per sample':<34}{a['samples']:>8}{a['seconds']:>9.2f}{a['samples_per_s']:>11.3f}")
    print(f"{'(b) streamed through one runtime':<34}{b['samples']:>8}{b['seconds']:>9.2f}{b['samples_per_s']:>11.3f}")
    print(f"speed-up (b)/(a): {s['speedup']:.2f}x; identical outputs: {s['identical_outputs']}")
    if "vgg11" in result:
        v = result["vgg11"]
        print(f"{v['model']}: {v['seconds_per_step']:.2f} s per simulated step "
              f"(over {v['steps_measured']} steps; compile + first step {v['compile_and_first_step_s']} s)")
    if "conv" in result:
        c = result["conv"]
        print(f"\n(c) Lava's convolution: as shipped (conv_scipy) vs snnsec._lava_conv, same run")
        print(f"{'':<34}{'conv_scipy':>12}{'snnsec':>10}{'ratio':>8}")
        print(f"{'vgg5 stream of %d samples, s' % args.n:<34}{c['lava']['stream_s']:>12.2f}"
              f"{c['snnsec']['stream_s']:>10.2f}{c['stream_speedup']:>7.2f}x")
        print(f"{'the same stream in float, s':<34}{c['lava']['float_stream_s']:>12.2f}"
              f"{c['snnsec']['float_stream_s']:>10.2f}{c['float_stream_speedup']:>7.2f}x")
        if "vgg11_speedup" in c:
            print(f"{'vgg11 full width, s per step':<34}{c['lava']['vgg11_s_per_step']:>12.2f}"
                  f"{c['snnsec']['vgg11_s_per_step']:>10.2f}{c['vgg11_speedup']:>7.1f}x")
        print(f"identical readouts (fixed point): {c['identical_readouts']}; float: identical labels "
              f"{c['float_identical_labels']}, readouts within {c['float_max_relative_difference']:.1e} (relative)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
