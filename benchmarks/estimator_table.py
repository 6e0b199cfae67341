"""ASR of every gradient estimator with FGSM, PGD-5 and PGD-100 on the MNIST-5k vgg5 models, lambda 1.0 and 0.5.

The strength half of the estimator table in ``docs/attacks.md`` (the cost half is
``benchmarks/attack_step.py``). Two vgg5 models, T = 4, hard reset, the demo recipe (3 epochs of
Adam, seed 0): the demo model (IF, lambda = 1.0, :func:`snnsec.demo.demo_model`) and the same
recipe with leak 0.5, trained once through ``snnsec train`` and cached under
:func:`snnsec.utils.cache.cache_dir` by ``benchmarks/stbp_vs_rga.py``'s :func:`model_paths` (the
same file that benchmark uses; nothing is trained twice).

For each model, each ``--eps`` and each registered gradient estimator (``--gradients``; all by
default, the ``random`` baseline and the ``rga-naive`` test oracle included): ``<g>-fgsm``,
``<g>-pgd`` with 5 steps and ``<g>-pgd`` with 100 steps (alpha = eps/4, random start, CE loss),
each crafted as ``snnsec craft`` crafts it (:func:`snnsec.attacks.craft.craft`, batches of
``--batch-size``, batch ``b`` seeded with ``batch_seed(--seed, b)``) on the same first ``--n``
test digits (the fixed class-mixed order of :func:`snnsec.data.base.sample_indices`). ASR is
the share of clean-correct digits misclassified after the attack.

Run: ``python benchmarks/estimator_table.py [--json] [--n 100] [--eps 0.05 0.1 0.2] [--leaks 1.0 0.5]
[--steps 5 100] [--gradients stbp rga ...]``; progress goes to stderr. Time one PGD-100 run with
``--time-one`` first: the full table is ``len(gradients) x len(eps) x len(leaks)`` times
(1 + 5 + 100) gradient evaluations of ``n`` digits.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="test digits to attack")
    parser.add_argument("--eps", nargs="+", default=["0.05", "0.1", "0.2"], help="L-inf budgets on [0, 1] pixels")
    parser.add_argument("--leaks", nargs="+", type=float, default=[1.0, 0.5], choices=[1.0, 0.5], help="models by leak")
    parser.add_argument("--steps", nargs="+", type=int, default=[5, 100], help="PGD step counts (besides FGSM)")
    parser.add_argument("--gradients", nargs="+", default=None,
                        help="estimators (default: every registered one but rga-naive, whose gradient is rga's)")
    parser.add_argument("--batch-size", type=int, default=100, help="samples per batch (as snnsec craft)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (batch b: batch_seed(seed, b), as snnsec craft)")
    parser.add_argument("--models-dir", type=Path, default=None, help="where the lambda=0.5 model is kept")
    parser.add_argument("--time-one", action="store_true", help="only time one stbp PGD run of the largest --steps")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--table-from", type=Path, default=None, help="print the table of a saved --json output and stop")
    args = parser.parse_args(argv)
    if args.table_from is not None:
        print_table(json.loads(args.table_from.read_text()))
        return 0
    os.environ.setdefault("SNNSEC_PROGRESS", "0")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    sys.path.insert(0, str(Path(__file__).resolve().parent))

    import torch

    import snnsec
    from snnsec.attacks import GRADIENTS, AttackSpec
    from snnsec.attacks.craft import craft
    from snnsec.data import get_dataset
    from snnsec.data.base import sample_indices, stack_samples
    from snnsec.utils.cache import cache_dir
    from snnsec.utils.metrics import attack_success_rate
    from stbp_vs_rga import model_paths

    gradients = args.gradients or sorted(g for g in GRADIENTS if g != "rga-naive")
    unknown = [g for g in gradients if g not in GRADIENTS]
    if unknown:
        parser.error(f"unknown gradient(s) {unknown}; choose from {sorted(GRADIENTS)}")
    data = get_dataset("mnist5k").split("test")
    _, y = stack_samples(data, sample_indices(len(data), args.n))
    paths = model_paths(args.models_dir or cache_dir() / "models")

    def predict_correct(model: Any, inputs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(inputs).argmax(1) == y

    attacks = [("fgsm", None)] + [("pgd", k) for k in args.steps]
    if args.time_one:
        model = snnsec.load_model(paths[1.0])
        spec = AttackSpec("stbp-pgd", eps=args.eps[0], steps=max(args.steps))
        t0 = time.perf_counter()
        craft(model, data, spec, n=args.n, batch_size=args.batch_size, seed=args.seed)
        seconds = time.perf_counter() - t0
        runs = len(gradients) * len(args.eps) * len(args.leaks)
        evals = 1 + sum(args.steps)
        print(f"one {spec.attack} run ({max(args.steps)} steps, n={args.n}, {torch.get_num_threads()} thread(s)): "
              f"{seconds:.1f} s; the full table is about {runs} x {evals}/{max(args.steps)} of that = "
              f"{seconds * runs * evals / max(args.steps) / 60:.0f} min")
        return 0

    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    clean_accuracy: dict[float, float] = {}
    for leak in args.leaks:
        model = snnsec.load_model(paths[leak])
        x, _ = stack_samples(data, sample_indices(len(data), args.n))
        clean = predict_correct(model, x)
        clean_accuracy[leak] = float(clean.double().mean())
        for eps in args.eps:
            for g in gradients:
                for optimizer, steps in attacks:
                    t0 = time.perf_counter()
                    spec = AttackSpec(f"{g}-{optimizer}", eps=eps, steps=steps)
                    adv = craft(model, data, spec, n=args.n, batch_size=args.batch_size, seed=args.seed).adv
                    asr = attack_success_rate(clean, predict_correct(model, adv.x_adv))
                    row = {"leak": leak, "eps": eps, "gradient": g, "optimizer": optimizer, "steps": steps,
                           "asr": asr, "seconds": round(time.perf_counter() - t0, 1)}
                    rows.append(row)
                    print(f"lambda={leak} eps={eps} {spec.attack} steps={steps}: ASR {100 * asr:.1f}% [{row['seconds']} s]",
                          file=sys.stderr, flush=True)
    result = {"gradients": gradients, "eps": args.eps, "leaks": args.leaks, "steps": args.steps,
              "model": "vgg5 (T=4, hard reset, demo recipe) on MNIST-5k", "n": args.n, "seed": args.seed,
              "batch_size": args.batch_size, "pgd": "alpha=eps/4, random start, CE loss",
              "clean_accuracy": {str(k): v for k, v in clean_accuracy.items()},
              "threads": torch.get_num_threads(), "seconds": round(time.perf_counter() - start, 1), "rows": rows}
    if args.json:
        print(json.dumps(result))
        return 0
    print_table(result)
    print(f"\n{result['seconds']} s with {result['threads']} thread(s)")
    return 0


def print_table(result: dict[str, Any]) -> None:
    """The markdown table of one run's JSON object."""
    rows, gradients, eps_list, leaks = result["rows"], result["gradients"], result["eps"], result["leaks"]
    attacks = [("fgsm", None)] + [("pgd", k) for k in result["steps"]]
    clean_accuracy = {float(k): v for k, v in result["clean_accuracy"].items()}
    n = result["n"]
    by = {(r["leak"], r["eps"], r["gradient"], r["optimizer"], r["steps"]): r["asr"] for r in rows}
    names = [f"ε={e} {'FGSM' if o == 'fgsm' else f'PGD-{k}'}" for e in eps_list for o, k in attacks]
    print(f"ASR (%) on the first {n} MNIST-5k test digits; vgg5, T=4; PGD: alpha=eps/4, random start; CE loss. "
          "Bold: the best estimator in each column and model.")
    print("| λ (clean acc.) | gradient | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for leak in leaks:
        best = {(e, o, k): max(by[(leak, e, g, o, k)] for g in gradients) for e in eps_list for o, k in attacks}
        for g in gradients:
            cells = []
            for e in eps_list:
                for o, k in attacks:
                    v = by[(leak, e, g, o, k)]
                    cells.append(f"**{100 * v:.1f}**" if v == best[(e, o, k)] else f"{100 * v:.1f}")
            print(f"| {leak} ({100 * clean_accuracy[leak]:.1f}) | {g} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    raise SystemExit(main())
