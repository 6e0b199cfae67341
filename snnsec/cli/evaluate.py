"""``snnsec evaluate``: clean accuracy, robust accuracy and ASR of a model on adversarial examples."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from snnsec.cli.common import HelpFormatter, add_common_options, emit
from snnsec.cli.craft import add_attack_options, craft_from_args
from snnsec.cli.train import add_data_options

if TYPE_CHECKING:
    from snnsec.evaluation.robustness import Predictor
    from snnsec.models import SpikingModel

log = logging.getLogger("snnsec")

EXAMPLES = """
examples:
  snnsec evaluate --model m.pt --adv adv.pt --json
  snnsec evaluate --model m.pt --attack rga-fgsm --eps 0.1 --n 500 --json
  snnsec evaluate --model target.pt --attack rga-pgd --eps 0.1 --substitute other.pt
"""


def make_predictor(model: "SpikingModel", args: argparse.Namespace) -> "Predictor":
    """Where predictions come from: the one place to add other backends (simulators, hardware)."""
    if getattr(args, "backend", "torch") != "torch":  # e.g. lava-sim: one Lava runtime per predict call
        from snnsec.backends.replay import BackendPredictor

        options = {"precision": args.precision} if args.backend == "lava-sim" else {}
        return BackendPredictor(model, args.backend, seed=args.seed, **options)
    from snnsec.evaluation.robustness import ModelPredictor

    return ModelPredictor(model, batch_size=args.eval_batch_size, seed=args.seed)


def evaluate_command(args: argparse.Namespace) -> int:
    from snnsec.data.adversarial import check_for_model, load_adversarial, save_adversarial
    from snnsec.errors import InputError
    from snnsec.evaluation.robustness import robustness_report
    from snnsec.models import load_model
    from snnsec.utils.io import sha256_file

    from snnsec.utils.distributed import single_process_only

    single_process_only("evaluate")
    if (args.adv is None) == (args.attack is None):
        raise InputError("pass either --adv FILE (evaluate saved examples) or --attack NAME (craft now)")
    if args.adv is not None:
        from snnsec.utils.device import resolve_device

        model = load_model(args.model)
        device = resolve_device(getattr(args, "device", "auto"))
        if device.type != "cpu" and getattr(args, "backend", "torch") == "torch":
            model.to(device)  # the file stays on the CPU; only the running copy moves
        sha = sha256_file(args.model)
        adv = load_adversarial(args.adv)
        if list(adv.x.shape[1:]) != list(model.meta.input_shape):
            raise InputError(f"{args.adv} holds inputs of shape {list(adv.x.shape[1:])} but the model takes {model.meta.input_shape}")
        check_for_model(adv, model.meta, str(args.adv), str(args.model))
        if adv.meta.get("model_sha256") not in (None, sha):
            log.warning("%s was crafted for another model file; reporting transfer to %s", args.adv, args.model)
    else:
        result, model, sha, _ = craft_from_args(args, partial=None)
        adv = result.adv
        if args.out is not None:
            save_adversarial(args.out, adv)
    report = robustness_report(make_predictor(model, args), adv, model.meta.class_names)
    report = {"model_sha256": sha, **report}
    emit(args, report, _human)
    return 0


def _pct(v: float | None) -> str:
    return "n/a" if v is None or v != v else f"{100 * v:.2f}%"


def _human(r: dict[str, Any]) -> str:
    lines = [
        f"{r['attack']} eps {r['eps']}{' (black box)' if r.get('black_box') else ''} on {r['n']} samples: "
        f"clean accuracy {_pct(r['clean_accuracy'])}, robust accuracy {_pct(r['robust_accuracy'])}, ASR {_pct(r['asr'])}",
        "class        n   clean  robust     ASR",
    ]
    for row in r["per_class"]:
        label = str(row.get("name", row["class"]))[:8]
        lines.append(f"{label:<8} {row['n']:>5} {_pct(row['clean_accuracy']):>7} {_pct(row['robust_accuracy']):>7} {_pct(row['asr']):>7}")
    return "\n".join(lines)


def add_parser(sub: argparse._SubParsersAction, name: str, summary: str) -> argparse.ArgumentParser:
    from snnsec.backends import BACKENDS
    from snnsec.backends.lava_sim import PRECISIONS

    p = sub.add_parser(
        name, help=summary, formatter_class=HelpFormatter, epilog=EXAMPLES,
        description=summary + "\n\nEither evaluates an adversarial file from `snnsec craft` (--adv), or crafts\n"
        "and evaluates in one go (--attack, same options as craft). ASR is the share of clean-correct\n"
        "samples that the attack makes misclassified; robust accuracy is over all samples.",
    )
    p.add_argument("--model", type=Path, required=True, help="model file to evaluate (the target)")
    p.add_argument("--adv", type=Path, default=None, help="adversarial file written by `snnsec craft`")
    add_attack_options(p, required=False)
    add_data_options(p, default=None)
    p.add_argument("--out", type=Path, default=None, help="with --attack: also save the adversarial file here")
    p.add_argument("--eval-batch-size", type=int, default=256, help="batch size for predictions")
    p.add_argument("--backend", default="torch", choices=sorted(BACKENDS),
                   help="where predictions run (see `snnsec deploy` and docs/deployment.md)")
    p.add_argument("--precision", default="fixed", choices=PRECISIONS, help="lava-sim: fixed or floating point")
    from snnsec.utils.device import add_device_option

    add_device_option(p, "; the torch backend and crafting with --attack")
    add_common_options(p)
    p.set_defaults(func=evaluate_command)
    return p
