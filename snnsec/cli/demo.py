"""``snnsec demo``: the main job on the embedded MNIST-5k digits, train -> attack -> Loihi 2 -> report."""

from __future__ import annotations

import argparse
from pathlib import Path

from snnsec.cli.common import HelpFormatter, add_common_options, emit


def demo_command(args: argparse.Namespace) -> int:
    from snnsec.demo import run_demo
    from snnsec.errors import InputError

    if args.n < 1:
        raise InputError(f"--n must be positive, got {args.n}")
    if args.check_lava < 0:
        raise InputError(f"--check-lava must be 0 (no Lava) or a positive number of digits, got {args.check_lava}")
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be a positive number of samples, got {args.batch_size}")
    result = run_demo(retrain=args.retrain, out_dir=args.out_dir, n=args.n, eps=args.eps, precision=args.precision,
                      device=args.device, check_lava=args.check_lava, batch_size=args.batch_size,
                      lava_spikes=args.lava_spikes)
    emit(args, result, lambda r: r["summary"])
    return 0


def add_parser(sub: argparse._SubParsersAction, name: str, summary: str) -> argparse.ArgumentParser:
    from snnsec.backends.lava_sim import PRECISIONS
    from snnsec.demo import DEMO_CHECK, DEMO_EPS, DEMO_N, EMU_BATCH

    p = sub.add_parser(
        name, help=summary, formatter_class=HelpFormatter,
        description=summary + "\n\n"
        "1. trains a small spiking VGG (vgg5, T=4, IF neurons) with STBP on the 4,000 MNIST-5k training\n"
        "   digits, or reuses the copy cached under the user cache directory (SNNSEC_CACHE_DIR overrides);\n"
        "2. crafts STBP and RGA attacks (FGSM, PGD) on the 1,000 held-out test digits;\n"
        "3. replays clean and adversarial digits on loihi2-emu (Loihi 2 fixed point, batched), and the\n"
        "   first --check-lava digits of each set on Lava's CPU simulator in one runtime, in a process\n"
        "   of its own that runs while the rest is crafted; in fixed point every readout v (and with\n"
        "   --lava-spikes every spike) must be identical to the emulator's, else the demo fails naming\n"
        "   the first differing sample, layer and step;\n"
        "4. prints the transfer tables and writes report.md, report.json and transfer.png to --out-dir.\n"
        "Each stage resumes: finished models, adversarial files and the Lava result are reused.",
    )
    p.add_argument("--out-dir", type=Path, default=Path("runs/demo"), help="where the report and adversarial files go")
    p.add_argument("--n", type=int, default=DEMO_N, help="test digits to attack and emulate (at most 1,000)")
    p.add_argument("--check-lava", type=int, default=DEMO_CHECK, metavar="K",
                   help="the first K digits of every set also run on lava-sim (0: no Lava)")
    p.add_argument("--eps", default=DEMO_EPS, help="L-inf budget on [0, 1] pixels (a number or a fraction)")
    p.add_argument("--precision", default="fixed", choices=PRECISIONS,
                   help="Lava arithmetic of the cross-check (float: predictions compared, not spikes)")
    p.add_argument("--lava-spikes", action="store_true",
                   help="fixed point: also compare every layer's spikes at every step (several times Lava's cost)")
    p.add_argument("--batch-size", type=int, default=EMU_BATCH, help="loihi2-emu samples per batch")
    p.add_argument("--retrain", action="store_true", help="ignore the cached model and train again")
    from snnsec.utils.device import add_device_option

    add_device_option(p, "; for training, crafting and the emulator (Lava runs on the CPU)")
    add_common_options(p)
    p.set_defaults(func=demo_command)
    return p
