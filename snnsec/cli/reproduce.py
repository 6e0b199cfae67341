"""``snnsec reproduce``: the paper's experiments as one resumable command (see docs/reproduce.md)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from snnsec.cli.common import HelpFormatter, add_common_options, emit

log = logging.getLogger("snnsec")

EXAMPLES = """
examples:
  snnsec reproduce --preset mnist5k                       # writes runs/reproduce-mnist5k/
  snnsec reproduce --preset mnist5k --n 20 --out-dir quick  # fewer samples per cell
  snnsec reproduce --preset paper-cifar10 --data-dir ~/data
  snnsec reproduce --study my-study.toml --out-dir runs/mine # fields: see snnsec/study/spec.py
Killed at any point, the same command finishes only the cells that are missing.
"""


def reproduce_command(args: argparse.Namespace) -> int:
    from snnsec.errors import InputError
    from snnsec.study import StudySpec, preset, run_study, write_study

    if (args.preset is None) == (args.study is None):
        raise InputError("pass either --preset NAME or --study FILE.toml")
    overrides: dict[str, Any] = {}
    if args.n is not None:
        overrides["n"] = args.n
    if args.data_dir is not None:
        overrides["data_dir"] = str(args.data_dir)
    if args.preset is not None:
        spec = preset(args.preset, **overrides)
    else:
        spec = StudySpec.from_dict({**StudySpec.from_toml(args.study).to_dict(), **overrides}, f"study file {args.study}")
    out = args.out_dir if args.out_dir is not None else Path(f"runs/reproduce-{spec.name}")
    from snnsec.utils.device import resolve_device

    result = run_study(spec, out, resolve_device(args.device))
    files = write_study(result, out)
    summary = {
        "study": spec.name,
        "out": str(out),
        "cells": len(result.data["cells"]) + len(result.data["shuffle"]),
        "computed": result.computed,
        "resumed": result.resumed,
        "seconds": round(result.seconds, 1),
        "files": {k: str(v) for k, v in files.items()},
    }
    emit(args, summary, _human)
    return 0


def _human(r: dict[str, Any]) -> str:
    return (f"study {r['study']}: {r['cells']} cells ({r['computed']} computed now, {r['resumed']} from an earlier run) "
            f"in {r['seconds']} s\n" + "\n".join(f"  {k}: {v}" for k, v in r["files"].items()))


def add_parser(sub: argparse._SubParsersAction, name: str, summary: str) -> argparse.ArgumentParser:
    from snnsec.study.spec import PRESETS

    p = sub.add_parser(
        name, help=summary, formatter_class=HelpFormatter, epilog=EXAMPLES,
        description=summary + "\n\nTrains or reuses every model (cached by recipe hash), then runs the grid of\n"
        "cells through the craft/evaluate machinery: Table 1 (spike shuffle), Table 2 (white and black box,\n"
        "STBP against RGA, with TE), Fig. 6 (ASR against eps), Fig. 7 (ASR against TE, direct and Poisson)\n"
        "and Fig. 8 (ASR against lambda, with the quantised-ANN baseline). Writes study.json, tables.md\n"
        "and the PNG figures to --out-dir; each finished cell is kept in <out-dir>/cells/, so a rerun resumes.",
    )
    g = p.add_argument_group("study")
    g.add_argument("--preset", default=None, choices=sorted(PRESETS),
                   help="; ".join(f"{k}: {v[1]}" for k, v in PRESETS.items()))
    g.add_argument("--study", type=Path, default=None, help="a TOML study file instead of a preset")
    g.add_argument("--n", type=int, default=None, help="attacked test samples per cell (overrides the study)")
    g.add_argument("--data-dir", type=Path, default=None, help="folder holding the dataset (CIFAR-10; not for mnist5k)")
    g.add_argument("--out-dir", type=Path, default=None, help="output folder (default: runs/reproduce-<study name>)")
    from snnsec.utils.device import add_device_option

    add_device_option(g, "; training and attacks run there, models are cached on the CPU")
    add_common_options(p)
    p.set_defaults(func=reproduce_command)
    return p
