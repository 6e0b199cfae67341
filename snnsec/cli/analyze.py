"""``snnsec analyze``: is the model rate coded? Spike shuffle (§4.1) and R-I curve (Figs. 4-5)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from snnsec.data.base import SPLITS
from snnsec.cli.common import ArgumentParser, HelpFormatter, add_common_options, emit
from snnsec.cli.train import add_data_options

EXAMPLES = """
examples:
  snnsec analyze shuffle --model m.pt --n 1000 --runs 5 --json
  snnsec analyze ri-curve --model m.pt --n 64 --out ri.png
"""


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    from snnsec.data import dataset_for_model
    from snnsec.errors import InputError
    from snnsec.models import load_model

    if args.n is not None and args.n < 1:
        raise InputError(f"--n must be positive, got {args.n}")
    from snnsec.utils.device import resolve_device

    model = load_model(args.model)
    device = resolve_device(getattr(args, "device", "auto"))
    if device.type != "cpu":
        model.to(device)
    return model, dataset_for_model(model.meta, args.dataset, args.data_dir).split(args.split)


def shuffle_command(args: argparse.Namespace) -> int:
    from snnsec.evaluation.rate_coding import shuffle_report

    model, data = _load(args)
    report = shuffle_report(model, data, n=args.n, runs=args.runs, seed=args.seed, batch_size=args.batch_size)
    emit(args, report, lambda r: f"clean accuracy {r['clean_accuracy']:.4f}, with spikes shuffled in time "
                                 f"{r['shuffled_accuracy']:.4f} (mean of {r['runs']} runs, n={r['n']}, T={r['T']})")
    return 0


def ri_curve_command(args: argparse.Namespace) -> int:
    from snnsec.errors import InputError
    from snnsec.evaluation.rate_coding import plot_ri_curve, ri_summary, sample_rate_current

    if args.out.suffix.lower() != ".png":
        raise InputError(f"--out must name a *.png file, got {args.out}")
    model, data = _load(args)
    samples = sample_rate_current(model, data, n=args.n, batch_size=args.batch_size)
    plot_ri_curve(samples, args.out, beta=args.beta, gamma=args.gamma, max_points=args.max_points, seed=args.seed)
    report = {"out": str(args.out), "n": min(args.n or len(data), len(data)), "beta": args.beta, "gamma": args.gamma,
              "layers": ri_summary(samples, args.beta, args.gamma)}

    def human(r: dict[str, Any]) -> str:
        lines = [f"R-I curve of {len(r['layers'])} layers written to {r['out']}",
                 "layer                 neurons  rate  silent  in[0,bθ]  MAE static  MAE RGA"]
        for row in r["layers"]:
            lines.append(f"{row['layer'][:20]:<20} {row['neurons']:>9} {row['mean_rate']:.3f}  {row['silent']:.3f}"
                         f"   {row['rga_support']:.3f}     {row['static_mae']:.3f}     {row['rga_mae']:.3f}")
        return "\n".join(lines)

    emit(args, report, human)
    return 0


def _common(p: argparse.ArgumentParser, n_default: int | None) -> None:
    p.add_argument("--model", type=Path, required=True, help="model file (*.pt)")
    add_data_options(p, default=None)
    p.add_argument("--split", default="test", choices=sorted(SPLITS), help="dataset split")
    p.add_argument("--n", type=int, default=n_default, help="use N samples of the split (the first N of a fixed permutation)")
    p.add_argument("--batch-size", type=int, default=256, help="samples per batch")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    from snnsec.utils.device import add_device_option

    add_device_option(p)
    add_common_options(p)


def add_parser(sub: argparse._SubParsersAction, name: str, summary: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=summary, formatter_class=HelpFormatter, epilog=EXAMPLES,
                       description=summary + "\n\nRGA assumes layers communicate by firing rates; these analyses check it.\n"
                       "Each analysis takes --json (one JSON object on stdout), --quiet and --debug.")
    analyses = p.add_subparsers(dest="analysis", metavar="ANALYSIS", parser_class=ArgumentParser, required=True)
    s = analyses.add_parser("shuffle", help="accuracy with each neuron's spikes permuted in time vs. without",
                            formatter_class=HelpFormatter,
                            description="Permutes every neuron's output spikes over the T steps (spike counts kept,\n"
                            "timing destroyed) and compares accuracy with the unshuffled model (paper §4.1, Table 1).")
    _common(s, None)
    s.add_argument("--runs", type=int, default=3, help="shuffles to average")
    s.set_defaults(func=shuffle_command)
    r = analyses.add_parser("ri-curve", help="(mean input current, rate) per layer vs. the static R-I curve and RGA's",
                            formatter_class=HelpFormatter,
                            description="Samples every neuron's time-averaged input current and firing rate and plots them\n"
                            "against the static R-I curve (Eq. 18) and RGA's relaxed curve (Eq. 15/19) in a PNG.")
    _common(r, 64)
    r.add_argument("--out", type=Path, required=True, help="PNG file to write")
    r.add_argument("--beta", type=float, default=2.0, help="RGA relaxation beta")
    r.add_argument("--gamma", type=float, default=0.2, help="RGA slope gamma")
    r.add_argument("--max-points", type=int, default=4000, help="points drawn per layer")
    r.set_defaults(func=ri_curve_command)
    return p
