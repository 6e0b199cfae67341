"""``snnsec`` root command: wires the command modules together and nothing else."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from snnsec.cli.common import ArgumentParser, HelpFormatter

# command name -> module in snnsec.cli; each module has add_parser(subparsers) and a *_command.
COMMANDS = {
    "env": "Print versions and whether Lava works (paste into bug reports).",
    "train": "Train a spiking model with STBP (surrogate-gradient BPTT).",
    "demo": "Run the main job on the embedded MNIST-5k data.",
    "export": "Export a model as lava-dl NetX HDF5 (Loihi 2 integers), ONNX unrolled over T, or a NIR graph.",
    "deploy": "Run a model on Lava's simulator, the Loihi 2 emulator, a Loihi 2 board or ONNX, and compare it with torch (accuracy, ASR transfer).",
    "datasets": "List the known datasets and check one on disk (nothing is downloaded).",
    "craft": "Craft adversarial examples: a gradient estimator (STBP, RGA, ...) with an optimizer (FGSM, PGD, ...).",
    "evaluate": "Clean accuracy, robust accuracy and attack success rate on adversarial examples.",
    "analyze": "Rate-coding analyses: spike shuffle and R-I curve (paper §4.1).",
    "import": "Import a model trained elsewhere: a NIR graph or a reference-code checkpoint.",
    "reproduce": "Run the paper's experiments (eps, TE and lambda sweeps, white/black box) with its tables and figures.",
}
# command name -> module, where the name is a Python keyword
MODULES = {"import": "import_cmd"}


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="snnsec",
        formatter_class=HelpFormatter,
        description=(
            "Tell whether a spiking neural network can be fooled: train Norse-based SNNs, craft\n"
            "STBP and RGA adversarial examples (Bu et al., CVPR 2023), and replay them on Lava.\n\n"
            "Every command takes --help, --json (one JSON object on stdout), --quiet and --debug."
        ),
    )
    from snnsec import __version__

    parser.add_argument("--version", action="version", version=f"snnsec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name, summary in COMMANDS.items():
        module = importlib.import_module(f"snnsec.cli.{MODULES.get(name, name)}")
        module.add_parser(sub, name, summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from snnsec.utils.malloc import tune_malloc

    tune_malloc()  # keep freed tensor memory in the process (a sixth of a training step otherwise)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # one line, like any other usage error
        usage = " ".join(parser.format_usage().split())
        sys.stderr.write(f"snnsec: error: a command is required; {usage} (see --help)\n")
        return 2
    from snnsec.cli.common import run_command

    return run_command(args.func, args)


def entry() -> int:
    """The ``snnsec`` script and ``python -m snnsec`` (so every torchrun rank): :func:`main`, then
    an exit that skips collecting torch's import-time objects; a torchrun rank also stops when its
    launcher dies (:mod:`snnsec.utils.process`)."""
    from snnsec.utils.process import run_process, stop_with_launcher

    stop_with_launcher()
    return run_process(main)


if __name__ == "__main__":
    raise SystemExit(entry())
