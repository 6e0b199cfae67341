"""``snnsec import``: a model trained elsewhere becomes an snnsec model file (``*.pt``).

Two sources:

- ``--nir model.nir``: a NIR graph written by Norse, snnTorch, SpikingJelly, Sinabs, Rockpool or
  ``snnsec export --format nir`` (see :mod:`snnsec.interop.nir`);
- ``--reference ckpt.pth --arch A``: a state_dict of the paper's reference code
  (see :mod:`snnsec.interop.reference`).

The written file loads with :func:`snnsec.load_model`, so the model can then be attacked
(``snnsec craft``) and deployed (``snnsec deploy``) like any model snnsec trained.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from snnsec.cli.common import HelpFormatter, add_common_options, emit

EXAMPLES = """
examples:
  snnsec import --reference vgg11_T[8]_tau[1.00].pth --arch vgg11 --T 8 --tau 1.0 --out vgg11.pt
  snnsec import --reference resnet17.pth --arch resnet17 --dataset cifar100 --out r17.pt --json
  snnsec import --nir norse_model.nir --T 8 --dt 1e-3 --convention norse --out m.pt
  snnsec import --nir snntorch_model.nir --T 8 --dt 1e-4 --out m.pt
  snnsec import --nir snnsec_export.nir --out back.pt          # T, dt, encoder from its metadata

NIR: chains of Conv2d, Affine, Linear, AvgPool2d, SumPool2d, Flatten, Scale and IF / LIF / CubaLIF
(with tau_syn = dt, i.e. no synaptic memory) map onto snnsec layers; LIF and CubaLIF are
integrated with forward Euler at --dt. Other nodes, branching graphs and neuron parameters that
differ between neurons of one layer are refused with one line naming the node.
"""


def _shape(text: str | None) -> list[int] | None:
    from snnsec.errors import InputError

    if text is None:
        return None
    try:
        shape = [int(v) for v in text.replace("x", ",").split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--input-shape must be integers such as 3,32,32, got {text!r}") from None
    if not shape or min(shape) < 1:
        raise InputError(f"--input-shape must be positive integers such as 3,32,32, got {text!r}")
    return shape


def import_command(args: argparse.Namespace) -> int:
    from snnsec.errors import InputError
    from snnsec.models import save_model

    if args.out.suffix != ".pt":
        raise InputError(f"--out must name a *.pt file, got {args.out}")
    if (args.nir is None) == (args.reference is None):
        raise InputError("give exactly one of --nir FILE or --reference FILE")
    if args.reference is not None:
        from snnsec.interop.reference import import_reference

        if args.arch is None:
            raise InputError("--reference needs --arch (the reference architecture, e.g. vgg11)")
        model = import_reference(
            args.reference, args.arch, T=args.T or 8, tau=args.tau, dataset=args.dataset,
            encoder=args.encoder or "direct", input_shape=_shape(args.input_shape),
        )
        source = {"reference": str(args.reference)}
    else:
        from snnsec.interop.nir import load_nir

        model = load_nir(args.nir, T=args.T, dt=args.dt, encoder=args.encoder, input_shape=_shape(args.input_shape),
                         dataset=args.dataset, convention=args.convention)
        source = {"nir": str(args.nir)}
    save_model(model, args.out)
    meta = model.meta
    result: dict[str, Any] = {
        "out": str(args.out), **source, "arch": meta.arch, "num_classes": meta.num_classes,
        "input_shape": meta.input_shape, "T": meta.T, "encoder": meta.encoder, "neuron": meta.neuron,
        "dataset": meta.dataset, "layers": sum(1 for _ in model.body.modules()) - 1,
    }
    emit(args, result, _human)
    return 0


def _human(r: dict[str, Any]) -> str:
    src = r.get("reference") or r.get("nir")
    return (f"imported {src} as {r['arch']} ({r['num_classes']} classes, input {r['input_shape']}, T={r['T']}, "
            f"{r['encoder']} encoder) -> {r['out']}")


def add_parser(sub: argparse._SubParsersAction, name: str, summary: str) -> argparse.ArgumentParser:
    from snnsec.encoders import ENCODERS
    from snnsec.interop.nir import CONVENTIONS

    p = sub.add_parser(name, help=summary, formatter_class=HelpFormatter, epilog=EXAMPLES, description=summary)
    src = p.add_argument_group("source (one of)")
    src.add_argument("--nir", type=Path, default=None, help="NIR graph file (*.nir, HDF5)")
    src.add_argument("--reference", type=Path, default=None, help="state_dict of the paper's reference code (*.pth)")
    g = p.add_argument_group("model")
    g.add_argument("--arch", default=None,
                   help="--reference: vgg11, vgg13, vgg16, vgg19, vggdvs, vgggesture, cnndvs, resnet17 or resnet19")
    g.add_argument("--T", type=int, default=None,
                   help="time steps (default: --reference 8; --nir the file's snnsec metadata, else required)")
    g.add_argument("--tau", type=float, default=1.0, help="--reference: its leak constant tau (lambda; 1.0 is IF)")
    g.add_argument("--dt", type=float, default=None,
                   help="--nir: Euler step of LIF/CubaLIF (default: the file's metadata, else 1.0)")
    g.add_argument("--convention", default="nir", choices=CONVENTIONS,
                   help="--nir: how the file writes tau (norse: Norse 1.1's to_nir, tau = dt/tau_mem_inv)")
    g.add_argument("--encoder", default=None, choices=sorted(ENCODERS),
                   help="input encoder (default: direct; DVS reference models and frame inputs: frames)")
    g.add_argument("--input-shape", default=None,
                   help="one sample, e.g. 3,32,32 or 10,2,48,48 (default: from the file or the architecture)")
    g.add_argument("--dataset", default=None,
                   help="dataset the model expects; --reference: selects its normalisation (default: cifar10)")
    p.add_argument("--out", type=Path, required=True, help="snnsec model file to write (*.pt)")
    add_common_options(p)
    p.set_defaults(func=_run)
    return p


def _run(args: argparse.Namespace) -> int:
    if args.reference is not None and args.dataset is None and args.arch not in ("vggdvs", "vgggesture", "cnndvs"):
        args.dataset = "cifar10"
    return import_command(args)
