"""``snnsec demo``: the main job on the embedded MNIST-5k digits."""

from __future__ import annotations

import argparse

from snnsec.cli.common import HelpFormatter, add_common_options, emit


def demo_command(args: argparse.Namespace) -> int:
    from snnsec.demo import run_demo

    result = run_demo(retrain=args.retrain)
    emit(args, result, lambda r: r["summary"])
    return 0


def add_parser(sub: argparse._SubParsersAction, name: str, summary: str) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name, help=summary, formatter_class=HelpFormatter,
        description=summary + "\n\nTrains a small spiking VGG (vgg5, T=4, IF neurons) on the 4,000 MNIST-5k training\n"
        "digits, or reuses the copy cached under the user cache directory (override with\n"
        "SNNSEC_CACHE_DIR), and reports its accuracy on the 1,000 held-out digits.",
    )
    p.add_argument("--retrain", action="store_true", help="ignore the cached model and train again")
    add_common_options(p)
    p.set_defaults(func=demo_command)
    return p
