"""``snnsec train``: STBP training of a spiking model, written as a safe ``*.pt`` model file."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from snnsec.cli.common import HelpFormatter, add_common_options, emit

log = logging.getLogger("snnsec")

EXAMPLES = """
examples:
  snnsec train --arch vgg5 --dataset mnist5k --T 4 --epochs 3 --out m.pt
  snnsec train --arch vgg5 --dataset mnist5k --leak 0.5 --reset soft --out lif05.pt --json
  snnsec train --arch vgg5 --dataset mnist5k --ann --out ann.pt       # quantised-ANN baseline (QCFS, 8 levels)
  snnsec train --arch vgg11 --dataset cifar10 --data-dir ~/data --recipe paper --device cuda --amp bf16 --out vgg11.pt
  torchrun --standalone --nproc-per-node 4 -m snnsec train --arch vgg11 --dataset cifar10 --data-dir ~/data \\
      --recipe paper --out vgg11.pt                  # DDP on 4 GPUs (docs/scale.md)
"""


def add_model_options(p: argparse.ArgumentParser, T_default: int | None = 4) -> None:
    from snnsec.encoders import ENCODERS
    from snnsec.models import MODELS
    from snnsec.neurons import NEURONS, SURROGATES

    g = p.add_argument_group("model")
    g.add_argument("--arch", default="vgg5", choices=sorted(MODELS), help="architecture")
    if T_default is None:  # event data: the dataset bins its events into the model's T frames
        g.add_argument("--T", type=int, default=None,
                       help="simulation time steps; None means 4 for images and, for event data, the dataset's "
                       "default number of frame bins (10)")
    else:
        g.add_argument("--T", type=int, default=T_default, help="simulation time steps")
    g.add_argument("--leak", type=float, default=1.0, help="membrane leak lambda in (0, 1]; 1.0 is IF")
    g.add_argument("--theta", type=float, default=1.0, help="firing threshold")
    g.add_argument("--reset", default="hard", choices=sorted(NEURONS),
                   help="neuron type, named by its reset: " + "; ".join(f"{k}: {v.summary}" for k, v in sorted(NEURONS.items())))
    g.add_argument("--surrogate", default="triangle", choices=SURROGATES, help="STBP surrogate of ds/du")
    g.add_argument("--gamma", type=float, default=1.0, help="surrogate width (triangle gamma)")
    g.add_argument("--encoder", default=None, choices=sorted(ENCODERS),
                   help="input encoding (default: direct for images, frames for event data)")
    g.add_argument("--width", type=float, default=1.0, help="channel width multiplier")


def add_data_options(p: argparse.ArgumentParser, default: str | None = "mnist5k") -> None:
    """``--dataset`` and ``--data-dir``; ``default=None`` means the dataset the model was trained on."""
    from snnsec.data import DATASETS

    g = p.add_argument_group("data")
    names = ", ".join(sorted(DATASETS))
    g.add_argument("--dataset", default=default,
                   help=f"one of: {names}" + ("" if default else " (default: the dataset the model was trained on)"))
    g.add_argument("--data-dir", type=Path, default=None, help="folder holding the dataset files (not needed for mnist5k)")


def train_command(args: argparse.Namespace) -> int:
    from snnsec.data import get_dataset
    from snnsec.errors import InputError, unknown_choice
    from snnsec.models import build_model, save_model
    from snnsec.neurons import NeuronParameters
    from snnsec.training import Recipe, train

    if args.out.suffix != ".pt":
        raise InputError(f"--out must name a *.pt file, got {args.out}")
    # Event datasets bin their events into T frames (args.T, else their default); images ignore T.
    from snnsec.data import DATASETS

    if args.dataset not in DATASETS:
        raise unknown_choice("dataset", args.dataset, DATASETS)
    accepted = DATASETS[args.dataset].option_names()
    from snnsec.training.recipes import apply_recipe

    # fills only the options left unset; event datasets keep their own number of frame bins
    apply_recipe(args, args.recipe, "augment" in accepted, skip=("T",) if "T" in accepted else ())
    if args.augment and "augment" not in accepted:
        with_augment = sorted(n for n, c in DATASETS.items() if "augment" in c.option_names())
        raise InputError(f"--augment is available for {', '.join(with_augment)}, not {args.dataset!r}")
    # the neuron and the recipe are checked before any data is read or generated
    neuron = NeuronParameters(args.leak, args.theta, args.reset, args.surrogate, args.gamma).validated()
    recipe = Recipe(
        epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
        lr=args.lr if args.lr is not None else (0.1 if args.optimizer == "sgd" else 2e-3),
        momentum=args.momentum, weight_decay=args.weight_decay, seed=args.seed,
    ).validated()
    # event datasets bin their events into the model's T frames; image datasets take no T
    ds_options = {"T": args.T} if "T" in accepted else {}
    ds = get_dataset(args.dataset, args.data_dir, **ds_options, **({"augment": True} if args.augment else {}))
    T = ds.sample_shape()[0] if ds.kind == "frames" else (args.T if args.T is not None else (1 if args.ann else 4))
    train_set, test_set = ds.split("train"), ds.split("test")
    from snnsec.utils.seeding import seed_everything

    seed_everything(args.seed)  # before the model is built: --seed fixes the initial weights too
    model = build_model(
        args.arch, num_classes=len(ds.classes), input_shape=ds.sample_shape(), T=T,
        neuron=neuron,
        encoder=args.encoder or ds.default_encoder, width=args.width,
        normalization=ds.normalization, dataset=ds.name, class_names=list(ds.classes),
    )
    ann: dict[str, Any] = {}
    if args.ann:  # the quantised-ANN baseline: every neuron becomes clamp-and-round (snnsec/models/ann.py)
        from snnsec.models.ann import ANN_KEY, ann_config, make_ann_twin

        ann = {ANN_KEY: ann_config(args.ann_levels)}
        make_ann_twin(model, args.ann_levels)
    from snnsec.utils import distributed
    from snnsec.utils.device import resolve_device

    device = resolve_device(args.device)
    ckpt = args.out.with_name(args.out.name + ".ckpt")
    best = args.out.with_name(args.out.name + ".best.ckpt")
    start = time.perf_counter()
    # under torchrun: DDP, a distributed sampler, and only rank 0 writes checkpoints and --out
    with distributed.session(device):
        world = distributed.world_size()
        result = train(model, train_set, test_set, recipe, checkpoint=ckpt, device=device, amp=args.amp,
                       workers=args.workers if args.workers is not None else (4 if device.type == "cuda" else 0),
                       eval_each_epoch=args.eval_each_epoch, best_checkpoint=best if args.eval_each_epoch else None,
                       keep=args.keep)
        if not distributed.is_main():
            return 0
    seconds = time.perf_counter() - start
    scale = {k: v for k, v in (("preset", args.recipe), ("ranks", world), ("amp", args.amp))
             if v not in ("default", 1, "off")}
    model.meta.recipe = {**recipe.__dict__, **scale, **ann, "trained_seconds": round(seconds, 1)}
    model.meta.test_accuracy = result.test_accuracy
    save_model(model, args.out)
    ckpt.unlink(missing_ok=True)
    best.unlink(missing_ok=True)
    out: dict[str, Any] = {
        "model": str(args.out),
        "arch": args.arch,
        "dataset": ds.name,
        "T": T,
        "test_accuracy": result.test_accuracy,
        "test_samples": len(test_set),
        "epochs": recipe.epochs,
        "resumed_from_epoch": result.resumed_from_epoch,
        "seconds": round(seconds, 1),
        "history": result.history,
    }
    emit(args, out, lambda r: f"test accuracy {r['test_accuracy']:.4f} on {r['test_samples']} {r['dataset']} samples; "
                              f"model written to {r['model']} ({r['seconds']} s)")
    return 0


def add_parser(sub: argparse._SubParsersAction, name: str, summary: str) -> argparse.ArgumentParser:
    from snnsec.training.stbp import OPTIMIZERS as TRAIN_OPTIMIZERS

    p = sub.add_parser(
        name, help=summary, formatter_class=HelpFormatter, epilog=EXAMPLES,
        description=summary + "\n\nTrains with cross-entropy on time-averaged logits, backpropagating through\n"
        "time and the surrogate spike derivative. Writes weights plus metadata (architecture, T,\n"
        "neuron, encoder, dataset, normalisation, recipe, test accuracy) to --out. An interrupted\n"
        "run resumes from <out>.ckpt when started again with the same options.",
    )
    add_model_options(p, T_default=None)
    q = p.add_argument_group("quantised-ANN baseline (paper Fig. 8)")
    q.add_argument("--ann", action="store_true",
                   help="train the same architecture with the clamp-and-round (QCFS) activation in place of each "
                        "neuron; the file records it, and craft/evaluate run on it as usual (T defaults to 1)")
    q.add_argument("--ann-levels", type=int, default=8, help="--ann: quantisation levels L of the activation")
    add_data_options(p)
    g = p.add_argument_group("training")
    from snnsec.training.recipes import RECIPES

    g.add_argument("--recipe", default="default", choices=sorted(RECIPES),
                   help="preset for every option below that is not given: default (adam, 3 epochs) or paper "
                        "(SGD lr 0.1, momentum 0.9, wd 5e-4, cosine, 200 epochs, batch 64, T 8, CIFAR augmentation)")
    g.add_argument("--epochs", type=int, default=None, help="passes over the training split (default 3)")
    g.add_argument("--batch-size", type=int, default=None,
                   help="global batch size (default 64); under torchrun each rank takes batch/ranks")
    g.add_argument("--optimizer", default=None, choices=sorted(TRAIN_OPTIMIZERS), help="optimiser (cosine schedule; default adam)")
    g.add_argument("--lr", type=float, default=None, help="learning rate (default 2e-3 for adam, 0.1 for sgd)")
    g.add_argument("--momentum", type=float, default=None, help="SGD momentum (default 0.9)")
    g.add_argument("--weight-decay", type=float, default=None, help="weight decay (default 0; paper: 5e-4 with SGD)")
    g.add_argument("--seed", type=int, default=0, help="random seed (initialisation, shuffling)")
    g.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="CIFAR only: random crop (padding 4), horizontal flip and Cutout(16) on training images "
                        "(default: off; on with --recipe paper)")
    s = p.add_argument_group("scale (docs/scale.md)")
    from snnsec.utils.device import add_device_option

    add_device_option(s, "; under torchrun, cuda means cuda:LOCAL_RANK")
    from snnsec.training.stbp import AMP, KEEP

    s.add_argument("--amp", default="off", choices=list(AMP),
                   help="mixed precision on CUDA (fp16 with a gradient scaler); attacks stay float32")
    s.add_argument("--workers", type=int, default=None,
                   help="DataLoader worker processes (default: 0 on the CPU, 4 on CUDA, with pinned memory)")
    s.add_argument("--eval-each-epoch", action=argparse.BooleanOptionalAction, default=True,
                   help="test accuracy after every epoch, in the history; the best epoch's weights go to <out>.best.ckpt")
    s.add_argument("--keep", default="last", choices=KEEP,
                   help="which epoch's weights --out holds: the last, or the best by per-epoch test accuracy")
    p.add_argument("--out", type=Path, required=True, help="model file to write (*.pt)")
    add_common_options(p)
    p.set_defaults(func=train_command)
    return p
