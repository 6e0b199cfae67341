"""A command's CPU with and without :func:`snnsec.utils.process.run_process`'s exit, side by side.

Each command runs ``--rounds`` times in a fresh interpreter in each of two ways, alternated:

- ``main``: ``python -c "... sys.exit(main())"``, the CLI's :func:`snnsec.cli.main.main` with
  the interpreter's ordinary exit (what every command did before);
- ``entry``: ``python -m snnsec``, as the ``snnsec`` script and each torchrun rank run it
  (:func:`snnsec.cli.main.entry`: the same ``main``, then :func:`gc.freeze` before the exit).

The commands work on a small untrained vgg5 (1x28x28, width 1/4, T = 2) written to a temporary
folder: ``craft`` (rga-fgsm on 8 MNIST-5k digits), ``deploy`` (those digits on loihi2-emu) and
``--version`` (which still builds the parser, whose choices come from registries that import
torch). The table gives the median user + system CPU seconds of each (from ``wait4``, the child
alone), the difference and the ratio; both ways must write the same bytes.

Run: ``python benchmarks/process_exit.py [--json] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _children import timed

ROOT = Path(__file__).resolve().parents[1]
WAYS = {
    "main": [sys.executable, "-c", "import sys; from snnsec.cli.main import main; sys.exit(main())"],
    "entry": [sys.executable, "-m", "snnsec"],
}


def commands(model: Path, folder: Path) -> dict[str, tuple[list[str], Path | None]]:
    """name -> (arguments, the file it writes)."""
    adv, report = folder / "adv.pt", folder / "report.json"
    return {
        "craft": (["craft", "--model", str(model), "--attack", "rga-fgsm", "--n", "8", "--device", "cpu",
                   "--out", str(adv), "--force", "--quiet"], adv),
        "deploy": (["deploy", "--model", str(model), "--backend", "loihi2-emu", "--n", "8", "--device", "cpu",
                    "--out", str(report), "--force", "--quiet"], report),
        "version": (["--version"], None),
    }


def digest(name: str, path: Path) -> str:
    """What a command computed: the file's bytes, or a deploy report without the fields that
    describe how the run went (wall seconds, samples/s)."""
    if name != "deploy":
        return hashlib.sha256(path.read_bytes()).hexdigest()
    from snnsec.backends.batched import RUN_SPECIFIC_INFO

    report = json.loads(path.read_text())
    report.pop("seconds", None)
    for key in RUN_SPECIFIC_INFO:
        report.get("backend_info", {}).pop(key, None)
    return json.dumps(report, sort_keys=True)


def make_model(folder: Path) -> Path:
    import torch

    from snnsec.models import build_model, save_model
    from snnsec.neurons import NeuronParameters

    torch.manual_seed(0)
    model = build_model("vgg5", num_classes=10, input_shape=(1, 28, 28), T=2, width=0.25, dataset="mnist5k",
                        neuron=NeuronParameters(1.0, 0.3, "hard", "triangle", 1.0)).eval()
    path = folder / "tiny.pt"
    save_model(model, path)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5, help="runs of each command each way (alternated)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SNNSEC_PROGRESS": "0",
           "PYTHONPATH": os.pathsep.join(x for x in (str(ROOT), os.environ.get("PYTHONPATH", "")) if x)}
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env["SNNSEC_CACHE_DIR"] = os.environ.get("SNNSEC_CACHE_DIR", str(folder / "cache"))
        model = make_model(folder)
        for name, (args_, out) in commands(model, folder).items():
            cpu: dict[str, list[float]] = {w: [] for w in WAYS}
            digests = set()
            timed(WAYS["main"] + args_, env, ROOT)  # warm the page cache and MNIST-5k's decoded table
            for r in range(args.rounds):
                for way in (list(WAYS) if r % 2 == 0 else list(WAYS)[::-1]):
                    cpu[way].append(timed(WAYS[way] + args_, env, ROOT)[1])
                    if out is not None:
                        digests.add(digest(name, out))
            med = {w: statistics.median(v) for w, v in cpu.items()}
            rows[name] = {**{f"{w}_cpu": med[w] for w in WAYS}, "saved_cpu": med["main"] - med["entry"],
                          "ratio": med["main"] / med["entry"], "same_output": len(digests) <= 1}
    result = {"rounds": args.rounds, "commands": rows}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"median CPU seconds (user + system) of one process over {args.rounds} alternated rounds, 1 torch thread")
    print(f"{'command':<10}{'main()':>9}{'entry()':>9}{'saved':>8}{'main/entry':>12}{'same bytes':>12}")
    for name, row in rows.items():
        print(f"{name:<10}{row['main_cpu']:>9.2f}{row['entry_cpu']:>9.2f}{row['saved_cpu']:>8.2f}"
              f"{row['ratio']:>12.2f}{str(row['same_output']):>12}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
