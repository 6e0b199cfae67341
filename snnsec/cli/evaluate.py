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
    import torch

    from snnsec.backends.base import Prediction
    from snnsec.data.adversarial import AdversarialSet
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


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """Constructor options of ``--backend`` (other than torch) from the command line."""
    if args.backend == "lava-sim":
        return {"precision": args.precision}
    if args.backend == "loihi2-emu":
        from snnsec.cli.deploy import emulator_options

        return emulator_options(args, batch_size=args.eval_batch_size)
    return {}


class ModelBackend:
    """The torch model's own predictions (:meth:`SpikingModel.predict`, as ``snnsec evaluate`` has
    always judged them) behind the backend protocol, so they go through the same batches."""

    name = "torch"

    def __init__(self, model: "SpikingModel", batch_size: int) -> None:
        self.model = model
        self.batch_size = batch_size

    def predict(self, x: "torch.Tensor", seed: int = 0) -> "Prediction":
        from snnsec.backends.base import Prediction

        if getattr(self.model.encoder, "generator", None) is not None:
            self.model.encoder.reseed(seed)  # a Poisson encoder with its own generator, as craft does
        labels = self.model.predict(x, self.batch_size, seed).numpy()
        return Prediction(labels, labels.reshape(-1, 1).astype("float64"))


def evaluate_command(args: argparse.Namespace) -> int:
    from snnsec.data.adversarial import check_for_model, load_adversarial, save_adversarial
    from snnsec.errors import InputError
    from snnsec.models import load_model
    from snnsec.utils import distributed
    from snnsec.utils.device import resolve_device
    from snnsec.utils.io import sha256_file
    from snnsec.utils.shards import discard_partial, partial_folder

    if args.suite is not None:
        # the suite's attacks depend on each other (each runs on what the previous left robust)
        distributed.single_process_only("evaluate --suite")
        return suite_command(args)
    if args.budget is not None:
        raise InputError("--budget applies to --suite only")
    if (args.adv is None) == (args.attack is None):
        raise InputError("pass either --adv FILE (evaluate saved examples) or --attack NAME (craft now)")
    if args.backend != "loihi2-emu" and args.check_lava is not None:
        raise InputError("--check-lava applies to --backend loihi2-emu only")
    if args.adv is not None and args.out is not None and args.out.suffix != ".json":
        raise InputError(f"with --adv, --out names the JSON report (*.json), got {args.out}")
    if distributed.launched_world_size() > 1 and args.out is None:
        raise InputError("evaluate across torchrun ranks needs --out (with --attack the adversarial file, with "
                         "--adv the JSON report); its batches go to <out>.partial/ on a filesystem every rank sees")
    options = backend_options(args) if args.backend != "torch" else {}
    device = resolve_device(getattr(args, "device", "auto"))
    # under torchrun the ranks share the batches (crafting, then predictions) through
    # <out>.partial/; rank 0 writes --out and prints
    with distributed.session(device):
        partial = partial_folder(args.out) if args.out is not None else None
        if args.adv is not None:
            model = load_model(args.model)
            if device.type != "cpu" and args.backend == "torch":
                model.to(device)  # the file stays on the CPU; only the running copy moves
            sha = sha256_file(args.model)
            adv = load_adversarial(args.adv)
            if list(adv.x.shape[1:]) != list(model.meta.input_shape):
                raise InputError(f"{args.adv} holds inputs of shape {list(adv.x.shape[1:])} but the model takes "
                                 f"{model.meta.input_shape}")
            check_for_model(adv, model.meta, str(args.adv), str(args.model))
            if adv.meta.get("model_sha256") not in (None, sha):
                log.warning("%s was crafted for another model file; reporting transfer to %s", args.adv, args.model)
            source: dict[str, Any] = {"adv_sha256": sha256_file(args.adv)}
            folder = partial
        else:  # every rank needs the whole set for the predictions that follow
            result, model, sha, _ = craft_from_args(args, partial=partial, every_rank=True)
            adv = result.adv
            source = {"crafted": adv.meta}
            folder = partial / "predictions" if partial is not None else None
        report = predict_report(model, adv, args, options, {"model_sha256": sha, **source}, folder)
        if report is None:  # a rank other than 0
            return 0
    if args.check_lava is not None:  # the first K clean and adversarial samples through lava-sim too
        from snnsec.cli.deploy import checked_against_lava

        sets = {"clean": (adv.x, 0), "adv": (adv.x_adv, 0)}
        report["check_lava"] = checked_against_lava(model, sets, args, options)
    if args.out is not None:
        if args.adv is not None:
            from snnsec.cli.common import write_report

            write_report(args.out, report)
        else:
            save_adversarial(args.out, adv)
    if partial is not None:
        discard_partial(partial)
    emit(args, report, _human)
    return 0


def predict_report(model: "SpikingModel", adv: "AdversarialSet", args: argparse.Namespace, options: dict[str, Any],
                   source: dict[str, Any], folder: "Path | None") -> dict[str, Any] | None:
    """The robustness report of ``--backend`` on ``adv``, predicted batch by batch (``--eval-batch-size``)
    and shared by torchrun ranks through ``folder``. ``None`` on ranks other than 0."""
    from snnsec import __version__
    from snnsec.backends import get_backend
    from snnsec.backends.batched import predict_sets
    from snnsec.evaluation.robustness import report_from_labels
    from snnsec.utils.shards import BatchFolder

    import torch

    if args.backend == "torch":
        impl: Any = ModelBackend(model, args.eval_batch_size)
    else:
        impl = get_backend(args.backend, model, **options,
                           **({"show_progress": False} if args.backend == "loihi2-emu" else {}))
    kept = {k: v for k, v in options.items() if k != "device"}  # what changes the labels
    meta = {"command": "evaluate", **source, "n": len(adv), "backend": args.backend, "options": kept,
            "batch": args.eval_batch_size, "seed": args.seed, "snnsec_version": __version__}
    lava = args.backend == "lava-sim"  # each rank streams its whole share through ONE runtime
    got = predict_sets(impl, model, [adv.x, adv.x_adv], batch_size=args.eval_batch_size, seed=args.seed,
                       index=adv.index, folder=BatchFolder(folder, meta) if folder is not None else None,
                       group=None if lava else 1, desc=None if lava else f"evaluate ({args.backend})")
    if got is None:
        return None
    report = report_from_labels(torch.from_numpy(got.labels[0]), torch.from_numpy(got.labels[1]), adv,
                                model.meta.class_names)
    report = {"model_sha256": source["model_sha256"], **report}
    if got.info:
        report["backend_info"] = got.info
    return report


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
    from snnsec.utils.device import resolve_device
    from snnsec.utils.io import sha256_file

    if args.adv is not None or args.attack is not None or args.substitute is not None:
        raise InputError("--suite runs its own attacks on --model; drop --adv, --attack and --substitute")
    if args.n is not None and args.n < 1:
        raise InputError(f"--n must be positive, got {args.n}")
    model = load_model(args.model)
    device = resolve_device(getattr(args, "device", "auto"))
    if device.type != "cpu":
        model.to(device)  # the suite's attacks and predictions run there; its file stays on the CPU
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
                   help="with --attack: also save the adversarial file here; with --adv: the JSON report (*.json); "
                        "with --suite: the JSON row. Finished batches wait in <out>.partial/, so a killed run "
                        "resumes (required under torchrun)")
    from snnsec.evaluation.reliable import SUITES

    p.add_argument("--suite", default=None, choices=sorted(SUITES),
                   help="run a fixed ensemble instead of one attack: a sample is robust only if every attack "
                        "fails; gradient-masking checks on 32 samples (docs/attacks.md)")
    p.add_argument("--budget", type=int, default=None,
                   help="--suite: most gradient evaluations per sample over the whole suite (default: 100 per attack)")
    p.add_argument("--eval-batch-size", type=int, default=256,
                   help="batch size for predictions: the unit torchrun ranks share; each batch's Poisson input "
                        "is drawn from its own seed, derived from (--seed, batch)")
    p.add_argument("--backend", default="torch", choices=sorted(BACKENDS),
                   help="where predictions run (see `snnsec deploy` and docs/deployment.md)")
    p.add_argument("--precision", default="fixed", choices=PRECISIONS, help="lava-sim: fixed or floating point")
    from snnsec.cli.deploy import add_emulator_options

    add_emulator_options(p, batch=False)  # loihi2-emu's batch is --eval-batch-size
    from snnsec.utils.device import add_device_option

    add_device_option(p, "; the torch backend, crafting with --attack and the --suite's attacks; under torchrun each rank takes every "
                         "N-th batch and rank 0 writes --out and the report (--suite: one process only)")
    add_common_options(p)
    p.set_defaults(func=evaluate_command)
    return p
