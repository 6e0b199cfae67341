"""``snnsec craft``: adversarial examples for a dataset split, written to a resumable ``adv.pt``."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from snnsec.cli.common import HelpFormatter, add_common_options, emit
from snnsec.cli.train import add_data_options
from snnsec.data.base import SPLITS

if TYPE_CHECKING:
    from snnsec.attacks import AttackSpec
    from snnsec.attacks.craft import CraftResult
    from snnsec.models import SpikingModel

log = logging.getLogger("snnsec")

EXAMPLES = """
examples:
  snnsec craft --model vgg11.pt --attack rga-pgd          # eps 8/255 on CIFAR, writes adv-rga-pgd.pt
  snnsec craft --model m.pt --attack rga-pgd --eps 8/255 --alpha 2/255 --steps 5 --n 1000 --out adv.pt
  snnsec craft --model m.pt --attack rga-fgsm --eps 0.1 --te 2 --out adv_te2.pt --json
  snnsec craft --model target.pt --substitute other.pt --attack stbp-fgsm --eps 0.1 --out bb.pt
"""


def add_attack_options(p: argparse.ArgumentParser, required: bool = True) -> None:
    """Attack, budget and sampling options shared by ``craft`` and ``evaluate``.

    Estimator and optimizer options are not listed here: each is a dataclass field of its class
    (:mod:`snnsec.utils.options`), and every registered one becomes a flag below.
    """
    from snnsec.attacks import LOSSES, attack_names

    g = p.add_argument_group("attack")
    g.add_argument("--attack", required=required, metavar="NAME", help="one of: " + ", ".join(attack_names()))
    g.add_argument("--eps", default=None,
                   help="L-inf budget in input units, a number or a fraction such as 8/255 (default: the "
                        "dataset's convention: 8/255 for CIFAR, 0.02 for DVS frames, 0.2 for MNIST-5k)")
    g.add_argument("--loss", default="ce", choices=sorted(LOSSES), help="loss to maximise")
    g.add_argument("--te", type=int, default=1, metavar="K", help="time extension: craft with K*T steps, evaluate at T")
    g.add_argument("--eot", type=int, default=1, metavar="K",
                   help="expectation over transformation: average each gradient over K encoder draws (Poisson input)")
    g.add_argument("--substitute", type=Path, default=None,
                   help="black box: craft on this separately trained model, evaluate on --model")
    add_option_flags(p)
    s = p.add_argument_group("samples")
    s.add_argument("--split", default="test", choices=sorted(SPLITS), help="dataset split")
    s.add_argument("--n", type=int, default=None, help="attack N samples of the split, the first N of a fixed permutation (default: all)")
    s.add_argument("--batch-size", type=int, default=64, help="samples per batch")
    s.add_argument("--seed", type=int, default=0, help="base seed; batch b uses a seed derived from (seed, b)")


def add_option_flags(p: argparse.ArgumentParser) -> None:
    """One ``--flag`` per option name of every registered estimator and optimizer, plus
    ``--opt NAME=VALUE`` for qualified names (``--opt assg.beta1=0.8``)."""
    from snnsec.attacks.gradients import GRADIENTS
    from snnsec.attacks.optimizers import OPTIMIZERS
    from snnsec.utils.options import option_fields, option_help, option_kind

    g = p.add_argument_group("estimator and optimizer options (each applies to the attack parts that have it)")
    owners: dict[str, list[tuple[str, Any]]] = {}
    for registry in (GRADIENTS, OPTIMIZERS):
        for name, cls in sorted(registry.items()):
            for opt, f in option_fields(cls).items():
                owners.setdefault(opt, []).append((name, f))
    taken = set(p._option_string_actions)  # flags the command already has keep their meaning
    for opt in sorted(owners):
        flag = "--" + opt.replace("_", "-")
        if flag in taken:
            continue
        f = owners[opt][0][1]
        if len(owners[opt]) == 1:
            text = f"{option_help(f)} [{owners[opt][0][0]}]"
        else:  # one flag, several owners: each keeps its own meaning and default
            defaults = ", ".join(f"{name} {field.default}" for name, field in owners[opt])
            text = f"{option_help(f, with_default=False)}; defaults: {defaults}"
        text = text.replace("%", "%%")
        if option_kind(f) == "bool":
            g.add_argument(flag, dest=f"opt_{opt}", action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            g.add_argument(flag, dest=f"opt_{opt}", default=None, metavar=option_kind(f).upper(), help=text)
    g.add_argument("--opt", action="append", default=[], metavar="NAME=VALUE",
                   help="any option by name, qualified as gradient.name or optimizer.name where both have it")


def attack_spec(args: argparse.Namespace) -> "AttackSpec":
    from snnsec.attacks import AttackSpec
    from snnsec.errors import InputError

    options = {k[len("opt_"):]: v for k, v in vars(args).items() if k.startswith("opt_") and v is not None}
    for item in getattr(args, "opt", None) or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--opt expects NAME=VALUE, got {item!r}")
        options[key.strip()] = value.strip()
    return AttackSpec(attack=args.attack, eps=str(args.eps).strip(), loss=args.loss, te=args.te, eot=args.eot,
                      **{k: (v.strip() if isinstance(v, str) else v) for k, v in options.items()})


def craft_from_args(args: argparse.Namespace, partial: Path | None,
                    every_rank: bool = False) -> tuple["CraftResult", "SpikingModel", str, float]:
    """Load models and data, craft. Returns (CraftResult, target model, target SHA-256, seconds).
    ``every_rank``: under torchrun every rank gets the whole set (see :func:`~snnsec.attacks.craft.craft`)."""
    from snnsec.attacks.craft import craft, craft_meta
    from snnsec.data import dataset_for_model
    from snnsec.errors import InputError
    from snnsec.models import load_model
    from snnsec.utils.io import sha256_file

    from snnsec.utils.device import resolve_device

    device = resolve_device(getattr(args, "device", "auto"))
    target = load_model(args.model)
    dataset = dataset_for_model(target.meta, args.dataset, args.data_dir)
    default_eps = args.eps is None
    if default_eps:
        args.eps = dataset.default_eps
    spec = attack_spec(args)
    spec.build()  # reject bad names and options before crafting anything (and before any log line)
    if default_eps:
        log.info("eps %s (the convention for %s; set it with --eps)", args.eps, dataset.name)
    target_sha = sha256_file(args.model)
    source, source_sha = None, None
    if args.substitute is not None:
        source = load_model(args.substitute)
        source_sha = sha256_file(args.substitute)
        if source.meta.input_shape != target.meta.input_shape or source.meta.num_classes != target.meta.num_classes:
            raise InputError(
                f"substitute {args.substitute} takes {source.meta.input_shape} -> {source.meta.num_classes} classes "
                f"but the target takes {target.meta.input_shape} -> {target.meta.num_classes}"
            )
    data = dataset.split(args.split)
    if args.n is not None and args.n < 1:
        raise InputError(f"--n must be positive, got {args.n}")
    n = len(data) if args.n is None else min(args.n, len(data))
    if target.meta.dataset and target.meta.dataset != dataset.name:
        log.warning("model was trained on %s but the attack uses %s", target.meta.dataset, dataset.name)
    meta = craft_meta(spec, target, target_sha, source, source_sha, dataset=dataset.name, split=args.split,
                      n=n, batch_size=args.batch_size, seed=args.seed)
    start = time.perf_counter()
    if device.type != "cpu":  # files stay on the CPU; only the running copy moves
        (source or target).to(device)
    result = craft(source or target, data, spec, n=n, batch_size=args.batch_size, seed=args.seed, meta=meta,
                   partial=partial, device=device, every_rank=every_rank)
    return result, target, target_sha, time.perf_counter() - start


def craft_command(args: argparse.Namespace) -> int:
    from snnsec.attacks.craft import discard_partial
    from snnsec.data.adversarial import save_adversarial
    from snnsec.errors import InputError

    if args.out is None:
        args.out = Path(f"adv-{args.attack}.pt")
    if args.out.suffix != ".pt":
        raise InputError(f"--out must name a *.pt file, got {args.out}")
    from snnsec.utils import distributed
    from snnsec.utils.device import resolve_device

    partial = args.out.with_name(args.out.name + ".partial")
    # under torchrun the ranks share the batches through <out>.partial/ and rank 0 writes --out
    with distributed.session(resolve_device(args.device)):
        result, _, _, seconds = craft_from_args(args, partial)
        if not distributed.is_main():
            return 0
    save_adversarial(args.out, result.adv)
    discard_partial(partial)
    adv = result.adv
    delta = (adv.x_adv.double() - adv.x.double()).abs().flatten(1).amax(1) if len(adv) else adv.x.new_zeros(0)
    out = {
        "out": str(args.out),
        "attack": args.attack,
        "eps": adv.meta["eps"],
        "n": len(adv),
        "batches": result.batches,
        "resumed_batches": result.resumed_batches,
        "black_box": adv.meta["black_box"],
        "te": args.te,
        "max_linf": float(delta.max()) if len(delta) else 0.0,
        "mean_linf": float(delta.mean()) if len(delta) else 0.0,
        "seconds": round(seconds, 2),
    }
    emit(args, out, _human)
    return 0


def _human(r: dict[str, Any]) -> str:
    resumed = f"; {r['resumed_batches']} of {r['batches']} batches resumed" if r["resumed_batches"] else ""
    return f"{r['n']} adversarial examples ({r['attack']}, eps {r['eps']}) written to {r['out']}{resumed}"


def _registry_lines(registry: dict[str, Any]) -> str:
    """One ``  name  summary`` line per registered class: ``--help`` lists what is registered."""
    width = max(map(len, registry))
    return "\n".join(f"  {name:<{width}}  {cls.summary}" for name, cls in sorted(registry.items()))


def add_parser(sub: argparse._SubParsersAction, name: str, summary: str) -> argparse.ArgumentParser:
    from snnsec.attacks.gradients import GRADIENTS
    from snnsec.attacks.optimizers import OPTIMIZERS

    p = sub.add_parser(
        name, help=summary, formatter_class=HelpFormatter, epilog=EXAMPLES,
        description=summary + "\n\nAn attack is <gradient>-<optimizer> (rga-pgd, stbp-fgsm, ...): the optimizer steps\n"
        "along the estimator's gradients inside the L-inf eps-ball and the encoder's input domain.\n\n"
        f"gradients:\n{_registry_lines(GRADIENTS)}\n\noptimizers:\n{_registry_lines(OPTIMIZERS)}\n\n"
        "The output holds clean and adversarial inputs, labels and metadata (attack config, model\n"
        "SHA-256, seed, version). A run killed midway resumes from <out>.partial/ when started again\n"
        "with the same options.",
    )
    p.add_argument("--model", type=Path, required=True, help="model file to attack (*.pt from `snnsec train`)")
    add_attack_options(p)
    add_data_options(p, default=None)
    p.add_argument("--out", type=Path, default=None, help="adversarial file to write (*.pt; default: adv-<attack>.pt)")
    from snnsec.utils.device import add_device_option

    add_device_option(p, "; under torchrun each rank takes every N-th batch and rank 0 writes --out")
    add_common_options(p)
    p.set_defaults(func=craft_command)
    return p
