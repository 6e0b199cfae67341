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
  snnsec evaluate --model m.pt --suite reliable --eps 0.1 --n 1000 --budget 300 --out row.json
  snnsec evaluate --model m.pt --adv adv.pt --json
  snnsec evaluate --model m.pt --attack rga-fgsm --eps 0.1 --n 500 --json
  snnsec evaluate --model target.pt --attack rga-pgd --eps 0.1 --substitute other.pt
  snnsec evaluate --model m.pt --adv adv.pt --backend loihi2-emu --check-lava 20 --json
"""


def make_predictor(model: "SpikingModel", args: argparse.Namespace) -> "Predictor":
    """Where predictions come from: the one place to add other backends (simulators, hardware)."""
    if getattr(args, "backend", "torch") != "torch":  # e.g. lava-sim: one Lava runtime per predict call
        from snnsec.backends.replay import BackendPredictor

        options = {"precision": args.precision} if args.backend == "lava-sim" else {}
        if args.backend == "loihi2-emu":
            from snnsec.cli.deploy import emulator_options

            options = emulator_options(args, batch_size=args.eval_batch_size)
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
    if args.suite is not None:
        return suite_command(args)
    if args.budget is not None:
        raise InputError("--budget applies to --suite only")
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
    if args.backend != "loihi2-emu" and args.check_lava is not None:
        raise InputError("--check-lava applies to --backend loihi2-emu only")
    predictor = make_predictor(model, args)
    report = robustness_report(predictor, adv, model.meta.class_names)
    if args.check_lava is not None:  # the first K clean and adversarial samples through lava-sim too
        from snnsec.cli.deploy import checked_against_lava, emulator_options

        sets = {"clean": (adv.x, 0), "adv": (adv.x_adv, 0)}
        checked = checked_against_lava(model, sets, args, emulator_options(args, batch_size=args.eval_batch_size))
    report = {"model_sha256": sha, **report}
    if getattr(predictor, "info", None):
        report["backend_info"] = predictor.info
    if args.check_lava is not None:
        report["check_lava"] = checked
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


def suite_command(args: argparse.Namespace) -> int:
    """``--suite NAME``: the ensemble of :mod:`snnsec.evaluation.reliable`, one RobustBench-style row."""
    from snnsec.data import dataset_for_model
    from snnsec.errors import InputError
    from snnsec.evaluation.reliable import SUITES, reliable_evaluation
    from snnsec.models import load_model
    from snnsec.utils.io import sha256_file

    if args.adv is not None or args.attack is not None or args.substitute is not None:
        raise InputError("--suite runs its own attacks on --model; drop --adv, --attack and --substitute")
    if args.n is not None and args.n < 1:
        raise InputError(f"--n must be positive, got {args.n}")
    model = load_model(args.model)
    dataset = dataset_for_model(model.meta, args.dataset, args.data_dir)
    eps = str(args.eps if args.eps is not None else dataset.default_eps).strip()
    result = reliable_evaluation(
        model, dataset.split(args.split), eps, n=args.n, batch_size=args.batch_size, seed=args.seed,
        budget=args.budget, suite=SUITES[args.suite], model_sha256=sha256_file(args.model),
        dataset=dataset.name, out=args.out, masking_n=32,
    )
    emit(args, result.report, _human_suite)
    return 0


def _human_suite(r: dict[str, Any]) -> str:
    lines = [
        f"reliable suite, eps {r['eps']} on {r['n']} samples: clean accuracy {_pct(r['clean_accuracy'])}, "
        f"robust accuracy (every attack failed) {_pct(r['robust_accuracy'])}",
        "attack       loss  steps  attacked  fooled  robust after",
    ]
    for a in r["attacks"]:
        lines.append(f"{a['attack']:<12} {a['loss']:<5} {a['steps']:>5} {a['attacked']:>9} {a['fooled']:>7} "
                     f"{_pct(a['robust_accuracy_after']):>13}")
    lines.append(f"cost: {r['forward_passes']} forward and {r['backward_passes']} backward sample-passes")
    for warning in r.get("masking", {}).get("warnings", []):
        lines.append(f"warning: possible gradient masking: {warning}")
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
    p.add_argument("--out", type=Path, default=None,
                   help="with --attack: also save the adversarial file here; with --suite: the JSON row (resumable)")
    from snnsec.evaluation.reliable import SUITES

    p.add_argument("--suite", default=None, choices=sorted(SUITES),
                   help="run a fixed ensemble instead of one attack: a sample is robust only if every attack "
                        "fails; gradient-masking checks on 32 samples (docs/attacks.md)")
    p.add_argument("--budget", type=int, default=None,
                   help="--suite: most gradient evaluations per sample over the whole suite (default: 100 per attack)")
    p.add_argument("--eval-batch-size", type=int, default=256, help="batch size for predictions")
    p.add_argument("--backend", default="torch", choices=sorted(BACKENDS),
                   help="where predictions run (see `snnsec deploy` and docs/deployment.md)")
    p.add_argument("--precision", default="fixed", choices=PRECISIONS, help="lava-sim: fixed or floating point")
    from snnsec.cli.deploy import add_emulator_options

    add_emulator_options(p, batch=False)  # loihi2-emu's batch is --eval-batch-size
    from snnsec.utils.device import add_device_option

    add_device_option(p, "; the torch backend and crafting with --attack")
    add_common_options(p)
    p.set_defaults(func=evaluate_command)
    return p
