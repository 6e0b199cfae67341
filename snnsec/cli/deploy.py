"""``snnsec deploy``: run a model on a neuromorphic backend and compare it with PyTorch."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from snnsec.cli.common import HelpFormatter, add_common_options, emit

EXAMPLES = """
examples:
  snnsec deploy --model m.pt --backend lava-sim --n 200 --json
  snnsec deploy --model m.pt --backend lava-sim --precision float --adv adv.pt
  snnsec deploy --model m.pt --backend onnx --n 1000
  snnsec deploy --model m.pt --backend loihi2-emu --check-lava 20 --json

The model is exported, its Lava network built, and all N samples (clean, plus adversarial
with --adv) stream through ONE Lava runtime with the neuron state reset between samples.
Reports the backend's clean accuracy and its agreement with torch's predictions; with --adv
also the attack success rate (ASR) on both and transfer_ratio = asr_backend / asr_torch.
"""


def _pct(v: Any) -> str:
    return "n/a" if v is None or v != v else f"{100 * v:.1f}%"


def _human(r: dict[str, Any]) -> str:
    info = r.get("backend_info", {})
    precision = {"fixed": "fixed point", "float": "floating point"}.get(info.get("precision", ""), "")
    head = f"{r['backend']}" + (f" ({precision}, {info.get('builder')})" if precision else "")
    lines = [f"{head} on {r['n']} samples in {r['seconds']} s",
             f"clean accuracy   {_pct(r['clean_accuracy'])} (torch {_pct(r['torch_clean_accuracy'])})",
             f"agreement        {_pct(r['agreement'])} of predictions equal torch's"]
    if "asr_backend" in r:
        ratio = r["transfer_ratio"]
        lines += [f"ASR              {_pct(r['asr_backend'])} on {r['backend']}, {_pct(r['asr_torch'])} on torch",
                  f"transfer ratio   {'n/a' if ratio is None or ratio != ratio else f'{ratio:.3f}'}"]
    return "\n".join(lines)


def add_emulator_options(p: argparse.ArgumentParser, batch: bool = True) -> None:
    """``--check-lava`` (and ``--batch-size``) of ``--backend loihi2-emu``; it runs on ``--device``."""
    if batch:
        p.add_argument("--batch-size", type=int, default=None, help="loihi2-emu: samples per batch (default 32)")
    p.add_argument("--check-lava", type=int, default=None, metavar="K",
                   help="loihi2-emu: also run the first K samples of each set through lava-sim (one runtime) "
                        "and fail, naming the first differing sample, layer and step, if any spike differs")


def emulator_options(args: argparse.Namespace, batch_size: int | None = None) -> dict[str, Any]:
    """Backend options of loihi2-emu from ``--batch-size`` and ``--device``; checks ``--check-lava``."""
    from snnsec.errors import InputError

    batch_size = batch_size if batch_size is not None else args.batch_size
    if batch_size is not None and batch_size < 1:
        raise InputError(f"--batch-size must be a positive number of samples, got {batch_size}")
    if args.check_lava is not None and args.check_lava < 1:
        raise InputError(f"--check-lava must be a positive number of samples, got {args.check_lava}")
    options: dict[str, Any] = {"device": getattr(args, "device", None)}
    if batch_size is not None:
        options["batch_size"] = batch_size
    return options


def checked_against_lava(model: Any, sets: dict[str, Any], args: argparse.Namespace,
                         options: dict[str, Any]) -> dict[str, Any]:
    """Run ``--check-lava``; raise one line naming the first difference, else return the check."""
    from snnsec.backends.loihi2_emu import check_lava_sets, difference_line
    from snnsec.errors import SnnsecError

    check = check_lava_sets(model, sets, args.check_lava, seed=args.seed, **options)
    if not check["identical"]:
        raise SnnsecError(difference_line(check))
    return check


def deploy_command(args: argparse.Namespace) -> int:
    import logging

    from snnsec.data.adversarial import check_for_model, load_adversarial
    from snnsec.utils.io import sha256_file
    from snnsec.backends.replay import adversarial_inputs
    from snnsec.errors import InputError
    from snnsec.models import load_model

    from snnsec.utils import distributed
    from snnsec.utils.device import resolve_device

    if args.n is not None and args.n < 1:
        raise InputError(f"--n must be a positive number of samples, got {args.n}")
    if args.out is not None and args.out.suffix != ".json":
        raise InputError(f"--out must name a *.json file, got {args.out}")
    if distributed.launched_world_size() > 1 and args.out is None:
        raise InputError("deploy across torchrun ranks needs --out FILE.json (its batches go to <out>.partial/ "
                         "on a filesystem every rank sees)")
    options: dict[str, Any] = {}
    if args.backend == "lava-sim":
        options = {"precision": args.precision, "builder": args.builder, "input_scale": args.input_scale}
    elif args.precision != "fixed" or args.builder != "auto":
        raise InputError("--precision and --builder apply to --backend lava-sim only")
    if args.backend == "loihi2-emu":
        options = emulator_options(args)
    elif args.batch_size is not None or args.check_lava is not None:
        raise InputError("--batch-size and --check-lava apply to --backend loihi2-emu only")
    model = load_model(args.model)
    device = resolve_device(getattr(args, "device", "auto"))
    if device.type != "cpu" and args.backend == "torch":  # the other backends read the CPU weights
        model.to(device)
    model_sha = sha256_file(args.model)
    x_adv = None
    if args.adv is not None:
        adv = load_adversarial(args.adv)
        x, x_adv, y = adversarial_inputs(adv, args.n)
        if list(x.shape[1:]) != list(model.meta.input_shape):
            raise InputError(f"{args.adv} holds inputs {list(x.shape[1:])} but the model expects {model.meta.input_shape}")
        check_for_model(adv, model.meta, str(args.adv), str(args.model))
        if adv.meta.get("model_sha256") not in (None, model_sha):
            logging.getLogger("snnsec").warning("%s was crafted for another model file; reporting transfer to %s",
                                                args.adv, args.model)
        index = adv.index[:len(x)]
        source: dict[str, Any] = {"adv_sha256": sha256_file(args.adv)}
    else:
        from snnsec.data import dataset_for_model
        from snnsec.data.base import sample_indices, stack_samples

        dataset = dataset_for_model(model.meta, args.dataset, args.data_dir)
        test = dataset.split("test")
        index = sample_indices(len(test), args.n)  # the samples craft --n attacks
        x, y = stack_samples(test, index)
        source = {"dataset": dataset.name}
    # under torchrun the ranks share the batches through <out>.partial/ and rank 0 writes the report
    with distributed.session(device):
        report = deploy_batches(model, x, y, x_adv, index, args, options,
                                {"model_sha256": model_sha, **source, "n": len(x)})
        if report is None:  # a rank other than 0
            return 0
    if args.check_lava is not None:  # the first K of each set through lava-sim too, spike for spike
        import torch

        both = x if x_adv is None else torch.cat([x, x_adv])
        sets = {"clean": (both, 0), **({"adv": (both, len(x))} if x_adv is not None else {})}
        report["check_lava"] = checked_against_lava(model, sets, args, options)
    report["model"] = str(args.model)
    if args.adv is not None:
        report["adv"] = str(args.adv)
    if args.out is not None:
        from snnsec.cli.common import write_report
        from snnsec.utils.shards import discard_partial, partial_folder

        write_report(args.out, report)
        discard_partial(partial_folder(args.out))
    emit(args, report, _human)
    return 0


def deploy_batches(model: Any, x: Any, y: Any, x_adv: Any, index: Any, args: argparse.Namespace,
                   options: dict[str, Any], source: dict[str, Any]) -> dict[str, Any] | None:
    """The deploy report, its batches shared by torchrun ranks (resumable from ``<out>.partial/``
    with ``--out``). Returns ``None`` on ranks other than 0."""
    import tempfile
    import time

    from snnsec import __version__
    from snnsec.backends import get_backend
    from snnsec.backends.batched import predict_sets
    from snnsec.backends.replay import backend_figures, flatten_adversarial
    from snnsec.utils import distributed
    from snnsec.utils.shards import BatchFolder, partial_folder

    results = {k: v for k, v in options.items() if k not in ("device", "netx_path")}  # what changes labels
    meta = {"command": "deploy", **source, "backend": args.backend, "options": results,
            "batch": args.eval_batch_size, "seed": args.seed, "snnsec_version": __version__}
    folder = BatchFolder(partial_folder(args.out), meta) if args.out is not None else None
    with tempfile.TemporaryDirectory(prefix="snnsec-deploy-") as tmp:
        own = dict(options)
        if args.backend == "onnx":
            own["path"] = f"{tmp}/model.onnx"  # exported once, then reused by every batch
        if args.backend == "lava-sim" and args.save_net is not None and distributed.is_main():
            own["netx_path"] = args.save_net
        if args.backend == "loihi2-emu":
            own["show_progress"] = False  # one bar for the whole run, not one per batch
        impl = get_backend(args.backend, model, **own)
        reference = get_backend("torch", model)
        lava = args.backend == "lava-sim"  # each rank streams its whole share through ONE runtime
        sets = [x] if x_adv is None else [x, x_adv]
        start = time.perf_counter()
        got = predict_sets(impl, model, sets, batch_size=args.eval_batch_size, seed=args.seed, reference=reference,
                           index=index, folder=folder, group=None if lava else 1,
                           desc=None if lava else args.backend)
    if got is None:
        return None
    assert got.reference is not None  # asked for above
    import numpy as np

    report = backend_figures(args.backend, y, np.concatenate(got.reference), np.concatenate(got.labels),
                             ["adv"] if x_adv is not None else [])
    report["seconds"] = round(time.perf_counter() - start, 2)  # rank 0's wall time, waiting for the others included
    report["backend_info"] = got.info
    return flatten_adversarial(report)


def add_parser(sub: argparse._SubParsersAction, name: str, summary: str) -> argparse.ArgumentParser:
    from snnsec.backends import BACKENDS
    from snnsec.backends.lava_sim import BUILDERS, PRECISIONS

    p = sub.add_parser(name, help=summary, formatter_class=HelpFormatter, epilog=EXAMPLES, description=summary)
    p.add_argument("--model", type=Path, required=True, help="trained model file (*.pt)")
    p.add_argument("--backend", default="lava-sim", choices=sorted(BACKENDS), help="where to run the model")
    p.add_argument("--precision", default="fixed", choices=PRECISIONS,
                   help="lava-sim: bit-accurate Loihi 2 fixed point, or floating point")
    p.add_argument("--builder", default="auto", choices=BUILDERS,
                   help="lava-sim: lava-dl NetX (chains, fixed point) or lava-nc processes")
    p.add_argument("--adv", type=Path, default=None, help="adversarial examples (adv.pt from `snnsec craft`)")
    p.add_argument("--n", type=int, default=None, help="samples to run (default: all)")
    p.add_argument("--dataset", default=None, help="dataset for clean samples without --adv (default: the model's)")
    p.add_argument("--data-dir", type=Path, default=None, help="folder of the dataset files (not needed for mnist5k)")
    p.add_argument("--seed", type=int, default=0, help="seed of Poisson input spikes (shared by all backends)")
    p.add_argument("--input-scale", type=float, default=255.0, help="lava-sim fixed: message per unit of direct input")
    p.add_argument("--save-net", type=Path, default=None, help="lava-sim: keep the NetX file it runs here")
    p.add_argument("--eval-batch-size", type=int, default=256,
                   help="samples per batch: the unit torchrun ranks share and a resumed run skips; each batch's "
                        "Poisson input is drawn from its own seed, derived from (--seed, batch)")
    p.add_argument("--out", type=Path, default=None,
                   help="also write the JSON report here (*.json); finished batches wait in <out>.partial/, so a "
                        "killed run resumes (required under torchrun)")
    add_emulator_options(p)
    from snnsec.utils.device import add_device_option

    add_device_option(p, "; moves the model for --backend torch; under torchrun each rank takes every N-th batch "
                         "(lava-sim: through one runtime per rank) and rank 0 writes the report")
    add_common_options(p)
    p.set_defaults(func=deploy_command)
    return p
