"""``snnsec datasets``: list the known datasets and check that one is on disk and readable."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from snnsec.cli.common import ArgumentParser, HelpFormatter, add_common_options, emit
from snnsec.errors import InputError

EXAMPLES = """
examples:
  snnsec datasets list
  snnsec datasets check --dataset cifar10 --data-dir ~/data --json
  snnsec datasets check --dataset cifar10-dvs --data-dir ~/data --T 10
  snnsec datasets check --data-dir ~/data          (finds which datasets D holds)
  snnsec datasets check --dataset dvs-mnist5k      (generated; no files needed)
"""


def dataset_entries() -> list[dict[str, Any]]:
    """One row per registered dataset: what it is, its size and where its files go."""
    from snnsec.data import DATASETS

    rows = []
    for name in sorted(DATASETS):
        cls = DATASETS[name]
        default = cls(Path("D") if cls.needs_data_dir else None)  # constructors touch no files
        rows.append({
            "name": name,
            "kind": cls.kind,
            "classes": len(cls.classes),
            "samples": dict(cls.sizes),
            "sample_shape": list(default.sample_shape()),
            "needs_data_dir": cls.needs_data_dir,
            "layout": cls.layout,
            "description": cls.description,
            "url": cls.url,
            "manifest": f"datasets/{name}.toml",
        })
    return rows


def _list_text(result: dict[str, Any]) -> str:
    lines = [f"{'name':<16} {'kind':<7} {'classes':>7} {'train/test':>12}  {'sample shape':<16} files (D = --data-dir)"]
    for r in result["datasets"]:
        sizes = r["samples"]
        split = f"{sizes['train']}/{sizes['test']}" if sizes else "?"
        shape = "x".join(str(v) for v in r["sample_shape"])
        lines.append(f"{r['name']:<16} {r['kind']:<7} {r['classes']:>7} {split:>12}  {shape:<16} {r['layout']}")
    lines.append("How to obtain each dataset: datasets/README.md; checksums and citations: datasets/<name>.toml")
    return "\n".join(lines)


def list_command(args: argparse.Namespace) -> int:
    emit(args, {"datasets": dataset_entries()}, _list_text)
    return 0


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options = {"T": args.T, "size": args.size, "cache_dir": args.cache_dir}
    return {k: v for k, v in options.items() if v is not None}


def _check_one(name: str, args: argparse.Namespace) -> dict[str, Any]:
    from snnsec.data import get_dataset

    ds = get_dataset(name, args.data_dir, **_options(args))
    return {**ds.summary(), "kind": ds.kind, "data_dir": None if args.data_dir is None else str(args.data_dir)}


def _find_datasets(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Without ``--dataset``: check every file-based dataset found in ``--data-dir``."""
    from snnsec.data import DATASETS
    from snnsec.data.notfound import DatasetNotFound

    if args.data_dir is None:
        raise InputError("give --dataset NAME, or --data-dir D to look for every dataset in D")
    found, missing = [], []
    for name in sorted(DATASETS):
        if not DATASETS[name].needs_data_dir:
            continue
        try:
            found.append(_check_one(name, args))
        except DatasetNotFound as exc:  # present but broken raises other errors: those are the news
            missing.append(f"{name}: {exc}")
    if not found:
        raise InputError(f"no dataset found in {args.data_dir}; " + "; ".join(missing))
    return found


def _check_text(result: dict[str, Any]) -> str:
    lines = []
    for r in result["checked"]:
        s = r["samples"]
        where = f" ({r['release']} release in {r['folder']})" if "release" in r else ""
        lines.append(
            f"{r['dataset']}: OK, {s['train']} train / {s['test']} test samples, {r['classes']} classes, "
            f"sample shape {r['sample_shape']}{where}"
        )
    return "\n".join(lines)


def check_command(args: argparse.Namespace) -> int:
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise InputError(f"--data-dir {args.data_dir} is not a folder")
    if args.dataset is not None:
        checked = [_check_one(args.dataset, args)]
    else:
        checked = _find_datasets(args)
    result: dict[str, Any] = dict(checked[0]) if len(checked) == 1 else {}
    result["checked"] = checked
    emit(args, result, _check_text)
    return 0


def add_parser(sub: argparse._SubParsersAction, name: str, summary: str) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name, help=summary, formatter_class=HelpFormatter, epilog=EXAMPLES,
        description=summary + "\n\nNothing is ever downloaded: datasets are read from --data-dir (see\n"
        "datasets/README.md for how to obtain them) or generated (mnist5k, dvs-mnist5k).",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=ArgumentParser)
    actions.required = True
    lst = actions.add_parser("list", help="known datasets, their sizes and where their files go",
                             formatter_class=HelpFormatter)
    add_common_options(lst)
    lst.set_defaults(func=list_command)
    chk = actions.add_parser("check", help="read a dataset and report samples, classes and sample shape",
                             formatter_class=HelpFormatter, epilog=EXAMPLES)
    chk.add_argument("--dataset", default=None, help="dataset name (default: every dataset found in --data-dir)")
    chk.add_argument("--data-dir", type=Path, default=None, help="folder holding the dataset files")
    chk.add_argument("--T", type=int, default=None, help="event data: frame time bins (default: the dataset's, 10)")
    chk.add_argument("--size", type=int, default=None, help="event data: frame side in pixels (default: the dataset's)")
    chk.add_argument("--cache-dir", type=Path, default=None, help="event data: frame cache folder (default: under D)")
    add_common_options(chk)
    chk.set_defaults(func=check_command)
    return p
