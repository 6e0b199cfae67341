"""What validation at the door costs ``snnsec evaluate``: the demo model on an adversarial file.

Two measurements, in one process, on the cached demo model (``snnsec.demo.demo_model()``, trained
in about 20 s if it is not cached) and an ``stbp-fgsm`` file of ``--n`` test digits crafted once:

1. **direct**: the CPU time of every check the command runs before its work, timed on their own
   with the same inputs: the argument and output-path checks (``check_arguments``,
   ``check_output_paths``), the model-file schema (``check_model_meta``, ``check_state_dict``,
   ``compare_state_dict``) and the adversarial-set schema (``check_adversarial_payload``,
   ``check_adversarial_for_model``); divided by the CPU time of the whole ``snnsec evaluate``.
2. **A/B**: the whole command with the checks and with them replaced by no-ops, interleaved
   round-robin (alternating which goes first) so that machine load hits both alike (the difference is within noise on a
   shared machine; the direct figure is the one to quote).

Times are medians of ``--repeats`` runs of ``time.process_time`` (CPU seconds of this process,
single-threaded), so other jobs on a shared machine do not count.

Run: ``python benchmarks/validation.py [--json] [--n 1000] [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _cpu(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="test digits in the adversarial file")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    os.environ["SNNSEC_PROGRESS"] = "0"
    from snnsec.cli import common
    from snnsec.cli.main import build_parser, main as snnsec_main
    from snnsec.data.adversarial import load_adversarial
    from snnsec.demo import demo_model
    from snnsec.encoders import ENCODERS
    from snnsec.models import load_model
    from snnsec.models.registry import GRAPH_ARCHS, MODELS
    from snnsec.utils import schema
    from snnsec.utils.io import safe_torch_load

    model_path, _ = demo_model()
    work = Path(tempfile.mkdtemp(prefix="snnsec-validation-"))
    adv_path = work / "adv.pt"
    with contextlib.redirect_stdout(io.StringIO()):
        code = snnsec_main(["craft", "--model", str(model_path), "--attack", "stbp-fgsm", "--eps", "0.2",
                            "--n", str(args.n), "--out", str(adv_path), "--quiet"])
    if code != 0:
        raise SystemExit(f"crafting the adversarial file failed (exit {code})")
    argv_eval = ["evaluate", "--model", str(model_path), "--adv", str(adv_path), "--json", "--quiet"]

    def evaluate() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            assert snnsec_main(argv_eval) == 0

    # 1. direct: the checks alone, on the inputs the command sees
    parsed = build_parser().parse_args(argv_eval)
    model_payload = safe_torch_load(model_path, "model file")
    adv_payload = safe_torch_load(adv_path, "adversarial file")
    model = load_model(model_path)
    adv = load_adversarial(adv_path)
    reference = model.state_dict()
    encoder = ENCODERS[model.meta.encoder]

    def checks() -> None:
        common.check_arguments(parsed)
        common.check_output_paths(parsed)
        schema.check_model_meta(model_payload["meta"], str(model_path), archs=set(MODELS) | set(GRAPH_ARCHS),
                                encoders=ENCODERS, step_shapes=encoder.step_shape)
        schema.check_state_dict(model_payload["state_dict"], str(model_path))
        schema.compare_state_dict(reference, model_payload["state_dict"], str(model_path), "vgg5")
        schema.check_adversarial_payload(adv_payload, str(adv_path))
        schema.check_adversarial_for_model(str(adv_path), adv.x, adv.x_adv, adv.y, domain=encoder.domain,
                                           num_classes=model.meta.num_classes, input_shape=model.meta.input_shape)

    evaluate()  # warm up (imports, oneDNN caches)
    checks()
    check_s = _cpu(checks, args.repeats * 5)
    eval_s = _cpu(evaluate, args.repeats)

    # 2. A/B: the command with the checks, and with them as no-ops, interleaved
    names = ["check_model_meta", "check_state_dict", "compare_state_dict", "check_adversarial_payload",
             "check_adversarial_for_model"]
    real = {name: getattr(schema, name) for name in names}
    real_common = (common.check_arguments, common.check_output_paths)
    import snnsec.data.adversarial as adv_mod
    import snnsec.models.io as model_io

    def patched(on: bool) -> None:
        for name in names:
            fn = real[name] if on else (lambda *a, **k: None)
            for mod in (schema, adv_mod, model_io):
                if hasattr(mod, name):
                    setattr(mod, name, fn)
        common.check_arguments, common.check_output_paths = real_common if on else (lambda a: None, lambda a: None)

    with_s, without_s = [], []
    try:
        for r in range(args.repeats):
            order = ((True, with_s), (False, without_s))
            for on, bucket in (order if r % 2 == 0 else order[::-1]):  # alternate who goes first
                patched(on)
                start = time.process_time()
                evaluate()
                bucket.append(time.process_time() - start)
    finally:
        patched(True)
    ab_with, ab_without = statistics.median(with_s), statistics.median(without_s)

    result = {
        "model": str(model_path), "n": args.n, "repeats": args.repeats,
        "evaluate_cpu_s": round(eval_s, 4),
        "checks_cpu_s": round(check_s, 5),
        "overhead_direct_pct": round(100 * check_s / max(eval_s - check_s, 1e-9), 2),
        "ab_with_checks_cpu_s": round(ab_with, 4),
        "ab_without_checks_cpu_s": round(ab_without, 4),
        "overhead_ab_pct": round(100 * (ab_with - ab_without) / ab_without, 2),
    }
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        print(f"snnsec evaluate, demo model, {args.n} adversarial digits (CPU seconds, median of {args.repeats})")
        print(f"{'whole command':<34}{result['evaluate_cpu_s']:>10.4f} s")
        print(f"{'checks at the door (direct)':<34}{result['checks_cpu_s']:>10.5f} s   "
              f"{result['overhead_direct_pct']:>6.2f} %")
        print(f"{'A/B: with checks':<34}{ab_with:>10.4f} s")
        print(f"{'A/B: checks as no-ops':<34}{ab_without:>10.4f} s   {result['overhead_ab_pct']:>6.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
