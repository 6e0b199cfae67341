"""``snnsec demo``: the main job on the embedded MNIST-5k digits, train -> attack -> Lava -> report."""

from __future__ import annotations

import argparse
from pathlib import Path

from snnsec.cli.common import HelpFormatter, add_common_options, emit


def demo_command(args: argparse.Namespace) -> int:
    from snnsec.demo import run_demo
    from snnsec.errors import InputError

    if args.n < 1:
        raise InputError(f"--n must be positive, got {args.n}")
    result = run_demo(retrain=args.retrain, out_dir=args.out_dir, n=args.n, eps=args.eps, precision=args.precision,
                      device=args.device)
    emit(args, result, lambda r: r["summary"])
    return 0


def add_parser(sub: argparse._SubParsersAction, name: str, summary: str) -> argparse.ArgumentParser:
    from snnsec.backends.lava_sim import PRECISIONS
    from snnsec.demo import DEMO_EPS, DEMO_N

    p = sub.add_parser(
        name, help=summary, formatter_class=HelpFormatter,
        description=summary + "\n\n"
        "1. trains a small spiking VGG (vgg5, T=4, IF neurons) with STBP on the 4,000 MNIST-5k training\n"
        "   digits, or reuses the copy cached under the user cache directory (SNNSEC_CACHE_DIR overrides);\n"
        "2. crafts STBP and RGA attacks (FGSM, PGD) on held-out digits;\n"
        "3. replays clean and adversarial digits on Lava's CPU simulator (bit-accurate Loihi 2 fixed\n"
        "   point by default), all through one runtime;\n"
        "4. prints a transfer table and writes report.md, report.json and transfer.png to --out-dir.\n"
        "Each stage resumes: finished models and adversarial files are reused.",
    )
    p.add_argument("--out-dir", type=Path, default=Path("runs/demo"), help="where the report and adversarial files go")
    p.add_argument("--n", type=int, default=DEMO_N, help="test digits to attack")
    p.add_argument("--eps", default=DEMO_EPS, help="L-inf budget on [0, 1] pixels (a number or a fraction)")
    p.add_argument("--precision", default="fixed", choices=PRECISIONS, help="Lava arithmetic")
    p.add_argument("--retrain", action="store_true", help="ignore the cached model and train again")
    from snnsec.utils.device import add_device_option

    add_device_option(p, "; for training and crafting (Lava runs on the CPU)")
    add_common_options(p)
    p.set_defaults(func=demo_command)
    return p
