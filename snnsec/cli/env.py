"""``snnsec env``: versions, device and Lava status, as a block to paste into bug reports."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import sys
from typing import Any

from snnsec.cli.common import HelpFormatter, add_common_options, emit

PACKAGES = ("torch", "norse", "lava-nc", "lava-dl", "tonic", "onnx", "onnxruntime", "torchattacks", "numpy")


def collect() -> dict[str, Any]:
    import torch

    from snnsec import __version__, _lava_conv
    from snnsec._lava_compat import lava_status
    from snnsec.utils.device import cuda_devices
    from snnsec.utils.malloc import tune_malloc

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    lava_ok, lava_msg = lava_status()
    try:
        importlib.metadata.version("torchvision")
        torchvision = True
    except importlib.metadata.PackageNotFoundError:
        torchvision = False
    return {
        "snnsec": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": versions,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "cuda_devices": cuda_devices(),
        "torch_cuda": torch.version.cuda,
        "torch_threads": torch.get_num_threads(),
        "lava_lif_imports": lava_ok,
        "lava_detail": lava_msg,
        "torchvision_installed": torchvision,
        "malloc_tuned": tune_malloc(),  # what the CLI applied at start-up (idempotent)
        "lava_conv": "snnsec (bit-exact on integers, float64 on floats)" if _lava_conv.active() else "lava-nc conv_scipy",
    }


def _human(info: dict[str, Any]) -> str:
    lines = [
        f"snnsec:        {info['snnsec']}",
        f"python:        {info['python']}",
        f"platform:      {info['platform']}",
    ]
    lines += [f"{k + ':':<15}{v or 'not installed'}" for k, v in info["versions"].items()]
    lines += [
        f"device:        {info['device']} ({info['torch_threads']} torch threads)",
        f"CUDA devices:  {len(info['cuda_devices']) or 'none'}" + ("" if info["torch_cuda"] else " (CPU build of torch)"),
    ]
    lines += [
        f"  cuda:{d['index']}:       {d['name']}, {d['memory_gib']} GiB, compute {d['capability']}" for d in info["cuda_devices"]
    ]
    lines += [
        f"lava LIF:      {'imports' if info['lava_lif_imports'] else 'FAILS: ' + info['lava_detail']}",
        f"lava conv:     {info['lava_conv']}",
        f"malloc:        {'tuned (snnsec.utils.malloc)' if info['malloc_tuned'] else 'C library defaults'}",
    ]
    if info["torchvision_installed"]:
        lines.append("WARNING:       torchvision is installed; it breaks the CPU torch here (see docs/install.md)")
    return "\n".join(lines)


def env_command(args: argparse.Namespace) -> int:
    info = collect()
    emit(args, info, _human)
    if args.check and (not info["lava_lif_imports"] or info["torchvision_installed"]):
        return 1
    return 0


def add_parser(sub: argparse._SubParsersAction, name: str, summary: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=summary, description=summary, formatter_class=HelpFormatter)
    p.add_argument("--check", action="store_true", help="exit 1 unless Lava imports and torchvision is absent")
    add_common_options(p)
    p.set_defaults(func=env_command)
    return p
