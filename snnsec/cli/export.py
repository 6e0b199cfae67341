"""``snnsec export``: write a trained model as lava-dl NetX HDF5 or as ONNX unrolled over T."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from snnsec.cli.common import HelpFormatter, add_common_options, emit


EXAMPLES = """
examples:
  snnsec export --model m.pt --format netx --out m.net
  snnsec export --model m.pt --format onnx --out m.onnx --json

NetX: BatchNorm and average pooling are folded into the weights, weights are quantised to
Loihi 2's 8-bit grid (per-layer error reported), neurons become CUBA neurons (iDecay=4096,
vDecay=round((1-lambda)*4096), vThMant = threshold - 1 quantum). The last layer is a
non-spiking readout whose membrane holds the summed logits. See docs/deployment.md.
"""


def _human(r: dict[str, Any]) -> str:
    lines = [f"wrote {r['format']} model to {r['out']}"]
    if r["format"] == "netx":
        lines.append(f"{r['layers']} layers, latency {r['latency']} steps, input scale {r['input_scale']:g} "
                     f"({r['input_message_bits']}-bit graded messages)" if r["input_message_bits"] else
                     f"{r['layers']} layers, latency {r['latency']} steps, unary spike input")
        lines.append(f"{'layer':<22}{'scale':>10}{'vThMant':>9}{'vDecay':>8}{'w rel err':>11}{'w max err':>11}  limited by")
        for q in r["quantization"]:
            lines.append(f"{q['layer']:<22}{q['scale']:>10.4g}{q['vth_mant']:>9}{q['v_decay']:>8}"
                         f"{q['weight_rel_error']:>11.2e}{q['weight_max_abs_error']:>11.2e}  {q['limited_by']}")
    elif "summary" in r:  # exporters that describe themselves (nir)
        lines.append(r["summary"])
    else:
        lines.append(f"T={r['T']} steps unrolled, opset {r['opset']}, input {r['input']}, {r['nodes']} nodes")
    return "\n".join(lines)


def export_command(args: argparse.Namespace) -> int:
    from snnsec.errors import InputError
    from snnsec.export import export
    from snnsec.models import load_model

    model = load_model(args.model)
    options: dict[str, float] = {}
    if args.format == "netx":
        if not args.input_scale > 0:
            raise InputError(f"--input-scale must be positive, got {args.input_scale}")
        options["input_scale"] = args.input_scale
    result = export(model, args.format, args.out, **options)
    result["model"] = str(args.model)
    emit(args, result, _human)
    return 0


def add_parser(sub: argparse._SubParsersAction, name: str, summary: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=summary, formatter_class=HelpFormatter, epilog=EXAMPLES,
                       description=summary)
    p.add_argument("--model", type=Path, required=True, help="trained model file (*.pt)")
    from snnsec.export import EXPORTERS

    p.add_argument("--format", default="netx", choices=sorted(EXPORTERS), help="netx (lava-dl HDF5), onnx or nir (NIR graph)")
    p.add_argument("--out", type=Path, required=True, help="file to write")
    p.add_argument("--input-scale", type=float, default=255.0,
                   help="NetX: integer message per unit of direct input (255: 8-bit pixels exactly)")
    add_common_options(p)
    p.set_defaults(func=export_command)
    return p
