"""ASR of every gradient estimator with PGD, APGD and SA-PGD on the demo model, and the reliable suite.

On the first ``--n`` MNIST-5k test digits (chosen by :func:`snnsec.data.base.sample_indices`, as
``snnsec craft`` chooses them) at L-inf ``--eps``, for each registered gradient estimator (except
``random`` and ``rga-naive``): ``<g>-pgd`` with 5 steps, ``<g>-apgd`` and ``<g>-sapgd`` with
``--steps-apgd`` steps (100 by default), each crafted exactly as ``snnsec craft`` crafts it
(:func:`snnsec.attacks.craft.craft`: batches of ``--batch-size``, batch ``b`` seeded with
``batch_seed(--seed, b)``); plus Gaussian noise (``gn``) as a model-blind baseline. ASR is the
share of clean-correct digits misclassified after the attack; robust accuracy the share of all
``n`` digits correct both clean and attacked.

Then the reliable suite (:func:`snnsec.evaluation.reliable.reliable_evaluation`) on the same
digits with the same batch size and seed, with ``--steps-apgd`` gradient evaluations per member,
and the acceptance check: its worst-case robust accuracy is at most the lowest robust accuracy
of any single attack above. Because the suite batches and seeds like ``craft``, each member's
result on a digit is that attack's result alone, so the check holds by construction for the
members (``assg-sapgd`` with CE is both a member and a single attack here) and is measured for
the other pairs.

Run: ``python benchmarks/sota_asr.py [--json] [--n 100] [--eps 0.1] [--steps-apgd 100] [--batch-size 64] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import Any

SKIP = ("random", "rga-naive")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="test digits to attack")
    parser.add_argument("--eps", default="0.1", help="L-inf budget on [0, 1] pixels")
    parser.add_argument("--steps-pgd", type=int, default=5, help="PGD steps")
    parser.add_argument("--steps-apgd", type=int, default=100, help="APGD / SA-PGD steps, and per reliable-suite member")
    parser.add_argument("--batch-size", type=int, default=64, help="samples per batch (as snnsec craft / evaluate)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (batch b: batch_seed(seed, b), as snnsec craft)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parser.parse_args(argv)
    os.environ.setdefault("SNNSEC_PROGRESS", "0")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")

    import torch

    import snnsec
    from snnsec.attacks import GRADIENTS, AttackSpec
    from snnsec.attacks.craft import craft
    from snnsec.data import get_dataset
    from snnsec.data.base import sample_indices, stack_samples
    from snnsec.demo import demo_model
    from snnsec.evaluation.reliable import RELIABLE_SUITE, reliable_evaluation
    from snnsec.utils.metrics import attack_success_rate

    path, _ = demo_model()
    model = snnsec.load_model(path)
    data = get_dataset("mnist5k").split("test")
    x, y = stack_samples(data, sample_indices(len(data), args.n))

    def correct(inputs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return model(inputs).argmax(1) == y

    clean = correct(x)
    gradients = [g for g in sorted(GRADIENTS) if g not in SKIP]
    specs = [AttackSpec("stbp-gn", eps=args.eps)]  # gn uses no gradient; the estimator is unused
    for g in gradients:
        specs += [AttackSpec(f"{g}-pgd", eps=args.eps, steps=args.steps_pgd),
                  AttackSpec(f"{g}-apgd", eps=args.eps, steps=args.steps_apgd),
                  AttackSpec(f"{g}-sapgd", eps=args.eps, steps=args.steps_apgd)]
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for spec in specs:
        t0 = time.perf_counter()
        crafted = craft(model, data, spec, n=args.n, batch_size=args.batch_size, seed=args.seed).adv
        if not torch.equal(crafted.y, y):
            raise SystemExit("craft attacked other digits than the clean evaluation")
        adv = correct(crafted.x_adv)
        gradient, _, optimizer = spec.attack.rpartition("-")
        row = {"attack": spec.attack, "gradient": "-" if optimizer == "gn" else gradient, "optimizer": optimizer,
               "steps": spec.steps, "asr": attack_success_rate(clean, adv),
               "robust_accuracy": float((clean & adv).double().mean()),
               "seconds": round(time.perf_counter() - t0, 1)}
        rows.append(row)
        print(f"{spec.attack} ({spec.steps or '-'} steps): ASR {100 * row['asr']:.1f}%, robust {100 * row['robust_accuracy']:.1f}%"
              f" [{row['seconds']} s]", file=sys.stderr, flush=True)

    budget = None if args.steps_apgd >= 100 else args.steps_apgd * len(RELIABLE_SUITE)
    t0 = time.perf_counter()
    suite = reliable_evaluation(model, data, args.eps, n=args.n, budget=budget, batch_size=args.batch_size,
                                seed=args.seed).report
    suite_seconds = round(time.perf_counter() - t0, 1)
    singles = [r for r in rows if r["optimizer"] != "gn"]  # stbp-pgd, rga-pgd and every pair run
    lowest = min(singles, key=lambda r: r["robust_accuracy"])
    result = {
        "model": f"demo vgg5 (T={model.T}) on MNIST-5k", "model_path": str(path), "n": len(y), "eps": args.eps,
        "batch_size": args.batch_size, "seed": args.seed,
        "steps_pgd": args.steps_pgd, "steps_apgd": args.steps_apgd,
        "clean_accuracy": float(clean.double().mean()), "rows": rows,
        "reliable": {"robust_accuracy": suite["robust_accuracy"], "budget": budget, "attacks": suite["attacks"],
                     "backward_passes": suite["backward_passes"], "seconds": suite_seconds},
        "lowest_single": {"attack": lowest["attack"], "robust_accuracy": lowest["robust_accuracy"]},
        "worst_case_at_most_lowest_single": suite["robust_accuracy"] <= lowest["robust_accuracy"],
        "seconds": round(time.perf_counter() - start, 1),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    by = {(r["gradient"], r["optimizer"]): r for r in rows}
    print(f"Demo model, {len(y)} MNIST-5k test digits, eps={args.eps}, clean accuracy {100 * result['clean_accuracy']:.1f}%; "
          f"PGD {args.steps_pgd} steps, APGD / SA-PGD {args.steps_apgd} steps. Cells: ASR % (robust accuracy %).")
    print("| gradient | PGD | APGD | SA-PGD |")
    print("|---|---|---|---|")
    for g in gradients:
        cells = [f"{100 * by[(g, o)]['asr']:.1f} ({100 * by[(g, o)]['robust_accuracy']:.1f})" for o in ("pgd", "apgd", "sapgd")]
        print(f"| {g} | " + " | ".join(cells) + " |")
    gn = by[("-", "gn")]
    print(f"| Gaussian noise (gn) | {100 * gn['asr']:.1f} ({100 * gn['robust_accuracy']:.1f}) | | |")
    print()
    print("Reliable suite, fooled first by each member: " + ", ".join(
        f"{a['attack']} ({a['loss']}) {a['fooled']}" for a in suite["attacks"]))
    print(f"Reliable suite worst case: {100 * suite['robust_accuracy']:.1f}% robust; lowest single attack: "
          f"{lowest['attack']} {100 * lowest['robust_accuracy']:.1f}%; worst case <= lowest single: "
          f"{result['worst_case_at_most_lowest_single']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
