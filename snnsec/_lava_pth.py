"""A ``.pth`` hook so that Lava imports in every script of the venv, not only through snnsec.

lava-nc 0.10 / lava-dl 0.6 need :mod:`snnsec._lava_compat`'s import-time patches on Python 3.11.
``make setup`` runs ``python -m snnsec._lava_pth``, which writes :data:`PTH_NAME` into the venv's
site-packages. Python's :mod:`site` executes a ``.pth`` line that starts with ``import`` at every
interpreter start, so a user's own ``from lava.lib.dl import netx`` works with no snnsec call.

At start-up the hook costs one ``find_spec`` and appends a tiny meta-path entry; only when a script
imports ``lava`` does it import :mod:`snnsec._lava_compat` and install the patches (no torch). If
snnsec is uninstalled and the file is left behind, the line does nothing instead of failing.
Remove the hook with ``python -m snnsec._lava_pth --remove``.
"""

from __future__ import annotations

import argparse
import os
import sysconfig
from pathlib import Path

PTH_NAME = "snnsec_lava_compat.pth"
# Sorted after setuptools' "__editable__*.pth", which makes the editable snnsec importable first.
PTH_LINE = (
    "import sys, importlib.util as _u; _u.find_spec('snnsec') is not None and sys.meta_path.insert(0, "
    "type('SnnsecLavaHook', (), {'find_spec': staticmethod(lambda name, path=None, target=None: "
    "(name == 'lava' or name.startswith('lava.')) and "
    "__import__('snnsec._lava_compat', fromlist=['install']).install() or None)})())\n"
)
"""One line: a meta-path hook that installs :mod:`snnsec._lava_compat` when ``lava`` is first
imported, so interpreters that never import Lava pay nothing but one ``find_spec``."""


def site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def write_pth(site_dir: str | os.PathLike[str] | None = None) -> Path:
    """Write the hook into ``site_dir`` (default: this interpreter's site-packages); returns its path."""
    from snnsec.utils.io import atomic_write_text

    path = Path(site_dir or site_packages()) / PTH_NAME
    atomic_write_text(path, PTH_LINE)
    return path


def remove_pth(site_dir: str | os.PathLike[str] | None = None) -> bool:
    path = Path(site_dir or site_packages()) / PTH_NAME
    if path.exists():
        path.unlink()
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m snnsec._lava_pth", description=__doc__.splitlines()[0])
    parser.add_argument("--remove", action="store_true", help="remove the hook instead of writing it")
    parser.add_argument("--site-dir", default=None, help="folder to write into (default: site-packages)")
    args = parser.parse_args(argv)
    if args.remove:
        remove_pth(args.site_dir)
    else:
        write_pth(args.site_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
