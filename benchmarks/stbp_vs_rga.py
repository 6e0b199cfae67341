"""STBP against RGA on MNIST-5k vgg5 models: FGSM and PGD at three budgets, lambda 1.0 and 0.5.

The paper's main comparison (Table 2, Fig. 8) at small scale. Two vgg5 models (T = 4, hard reset,
the demo recipe: 3 epochs of Adam) are trained if missing: the demo model (IF, lambda = 1.0) and
the same recipe with ``--leak 0.5``. Each attack runs white box on ``--n`` test digits (all 1,000 by default):
``{stbp,rga}-{fgsm,pgd}``, PGD with alpha = eps/4, 5 steps and random start (the paper's ratio
2/255 : 8/255), plus RGA with time extension 2x (§4.5) and a random-sign baseline of the same eps.
ASR is the share of clean-correct digits that are misclassified after the attack.

Run: ``python benchmarks/stbp_vs_rga.py [--json] [--n 1000] [--eps 0.1 0.2 0.3]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any


def model_paths(models_dir: Path) -> dict[float, Path]:
    """Paths of the lambda = 1.0 (demo) and lambda = 0.5 models, training them if needed."""
    from snnsec import demo
    from snnsec.cli.main import main as snnsec_main

    demo_path, _ = demo.demo_model()
    lif = models_dir / "vgg5-mnist5k-leak0.5.pt"
    if not lif.is_file():
        r = demo.DEMO_RECIPE
        with contextlib.redirect_stdout(sys.stderr):  # stdout is for the table / JSON only
            code = snnsec_main([
                "train", "--arch", "vgg5", "--dataset", "mnist5k", "--T", str(demo.DEMO_MODEL["T"]), "--leak", "0.5",
                "--epochs", str(r["epochs"]), "--batch-size", str(r["batch_size"]), "--optimizer", r["optimizer"],
                "--lr", str(r["lr"]), "--seed", str(r["seed"]), "--out", str(lif), "--quiet",
            ])
        if code != 0:
            raise SystemExit(f"training the lambda=0.5 model failed with exit status {code}")
    return {1.0: Path(demo_path), 0.5: lif}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="test digits to attack")
    parser.add_argument("--eps", nargs="+", default=["0.1", "0.2", "0.3"], help="budgets")
    parser.add_argument("--models-dir", type=Path, default=None, help="where to keep the lambda=0.5 model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    os.environ.setdefault("SNNSEC_PROGRESS", "0")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    import snnsec
    from snnsec.attacks import AttackSpec
    from snnsec.attacks.craft import craft
    from snnsec.data import get_dataset
    from snnsec.utils.cache import cache_dir
    from snnsec.evaluation.robustness import ModelPredictor, robustness_report

    models_dir = args.models_dir or cache_dir() / "models"
    data = get_dataset("mnist5k").split("test")
    attacks: list[tuple[str, str, int]] = [
        ("random", "fgsm", 1), ("stbp", "fgsm", 1), ("rga", "fgsm", 1), ("rga", "fgsm", 2),
        ("stbp", "pgd", 1), ("rga", "pgd", 1), ("rga", "pgd", 2),
    ]
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()
    for leak, path in model_paths(models_dir).items():
        model = snnsec.load_model(path)
        predictor = ModelPredictor(model)
        for eps in args.eps:
            for gradient, optimizer, te in attacks:
                spec = AttackSpec(f"{gradient}-{optimizer}", eps=eps, steps=5 if optimizer == "pgd" else None, te=te)
                adv = craft(model, data, spec, n=args.n, batch_size=250, seed=args.seed).adv
                r = robustness_report(predictor, adv)
                rows.append({"leak": leak, "eps": eps, "gradient": gradient, "optimizer": optimizer, "te": te,
                             "clean_accuracy": r["clean_accuracy"], "robust_accuracy": r["robust_accuracy"], "asr": r["asr"]})
                print(f"lambda={leak} eps={eps} {spec.attack} te={te}: ASR {r['asr']:.4f}", file=sys.stderr, flush=True)
    result = {"model": "vgg5 (T=4, hard reset) on MNIST-5k", "n": args.n, "pgd": "alpha=eps/4, 5 steps, random start",
              "seconds": round(time.perf_counter() - start, 1), "rows": rows}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"ASR (%) on {args.n} MNIST-5k test digits; vgg5, T=4; PGD: alpha=eps/4, 5 steps, random start")
    print("| λ | clean acc. | ε | random | STBP-FGSM | RGA-FGSM | RGA-FGSM TE2 | STBP-PGD | RGA-PGD | RGA-PGD TE2 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for leak in sorted({r["leak"] for r in rows}, reverse=True):
        for eps in args.eps:
            sel = {(r["gradient"], r["optimizer"], r["te"]): r for r in rows if r["leak"] == leak and r["eps"] == eps}
            cells = [f"{100 * sel[k]['asr']:.1f}" for k in attacks]
            clean = sel[("random", "fgsm", 1)]["clean_accuracy"]
            print(f"| {leak} | {100 * clean:.1f} | {eps} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
