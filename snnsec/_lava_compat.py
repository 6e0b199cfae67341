"""Make lava-nc 0.10.0 and lava-dl 0.6.0 importable on Python 3.11 (and Lava and Norse quicker to import), without touching site-packages.

Two source-level problems stop them (measured, see docs/install.md), and a third bites later:

1. ``lava.magma.compiler.var_model`` declares dataclass fields ``x: ByteEncoder = ByteEncoder()``.
   Python >= 3.11 rejects an unhashable dataclass instance as a default at class creation
   (``ValueError: mutable default ... use default_factory``), so ``from lava.proc.lif.process
   import LIF`` fails. We compile that module with ``field(default_factory=ByteEncoder)`` instead.
2. ``lava.lib.dl.slayer`` imports ``object_detection`` eagerly, which imports cv2 and torchvision.
   torchvision must never be installed here, so that import is made optional.
3. ``lava.magma.runtime.message_infrastructure.multiprocessing`` calls
   ``mp.set_start_method('fork')`` at import, which raises once anything has fixed the start method
   (tqdm's first progress bar does). It is compiled with ``force=True``: Lava needs fork anyway.

The other rewrites are for speed. ``lava.proc.conv.utils.conv`` calls :func:`snnsec._lava_conv.conv`
in place of ``conv_scipy``, which gives identical results on integer data about ten times faster,
the same to float64 rounding on float data, and hands anything else to ``conv_scipy`` (see that
module; ``SNNSEC_LAVA_SCIPY_CONV=1`` turns it off).
Imports that cost every process start-up time for code it rarely runs are deferred to first use
(:class:`LazyModule`): ``import norse`` imports its plotting module
``norse.torch.utils.plot.plot``, which imports ``matplotlib.pyplot``: 0.36 s of the 2.2 s every
``snnsec`` command (and every torchrun rank) spent importing (``python -X importtime``); lava-dl's
``slayer.utils.stats`` and ``slayer.io`` (plotting and animation helpers that NetX imports) do the
same for every Lava run.
:mod:`snnsec.neurons` installs the finder before it imports Norse; that module is compiled with
postponed annotations, so its ``plt.Axes`` annotations do not load pyplot either. Nothing else
changes: the first attribute read (``plt.gca``) imports pyplot, as ``import`` would have. The
same goes for ``scipy.signal`` (and through it ``scipy.stats``) in ``lava.proc.conv.utils``, which
only ``conv_scipy`` uses: 0.9 s of every Lava run's imports. Lava's compiler executes that file a
second time from its path, looking for process models, so ``compiler_graphs`` is rewritten to
hand such specs to :func:`patched_spec`. Norse's NIR converters (``norse.torch.utils.import_nir``
and ``export_nir``, which ``import norse`` loads) import ``nir`` and ``nirtorch``, and ``nir``
imports ``h5py``: 0.1 s of every process start-up; they load at the converters' first use.

:func:`install` puts a meta-path finder in front of the normal one. It rewrites only these
modules, in memory, at import time; every other module loads unchanged. Calling it twice is a no-op.
Lava's runtime forks its workers, so they inherit the patched modules.
"""

from __future__ import annotations

import __future__
import importlib
import importlib.abc
import logging
import importlib.machinery
import os
import re
import sys
from types import CodeType


class LazyModule:
    """Stands for the module ``name`` and imports it at the first attribute read."""

    def __init__(self, name: str) -> None:
        self.__dict__["_lazy_name"] = name

    def __getattr__(self, attr: str):  # type: ignore[no-untyped-def]
        return getattr(importlib.import_module(self._lazy_name), attr)

    def __repr__(self) -> str:
        return f"<LazyModule {self._lazy_name!r}>"


def _defer(statement: str, alias: str, module: str) -> tuple[re.Pattern[str], str]:
    """The patch that replaces the import line ``statement`` by ``alias`` bound to a
    :class:`LazyModule` of ``module``."""
    return (re.compile(rf"^{re.escape(statement)}\s*$", re.M),
            f"{alias} = __import__('snnsec._lava_compat', fromlist=['LazyModule']).LazyModule({module!r})")


# Modules compiled with `from __future__ import annotations`: their annotations name a deferred module.
_POSTPONED_ANNOTATIONS = {"norse.torch.utils.plot.plot", "norse.torch.utils.import_nir", "norse.torch.utils.export_nir"}

_PATCHES: dict[str, list[tuple[re.Pattern[str], str]]] = {
    "lava.magma.compiler.var_model": [
        (
            re.compile(r"^(\s+\w+: ByteEncoder) = ByteEncoder\(\)\s*$", re.M),
            r"\1 = __import__('dataclasses').field(default_factory=ByteEncoder)",
        ),
    ],
    # Lava needs the fork start method and sets it at import; without force=True that raises
    # "context has already been set" once anything (e.g. tqdm's lock) has used multiprocessing.
    "lava.magma.runtime.message_infrastructure.multiprocessing": [
        (
            re.compile(r"^(\s+)mp\.set_start_method\('fork'\)\s*$", re.M),
            r"\1mp.set_start_method('fork', force=True)",
        ),
    ],
    # Speed, not compatibility: Lava's CPU convolution runs in snnsec._lava_conv (exact on the
    # fixed-point model's integer data, float64 to rounding on the float model's; Lava's own
    # conv_scipy otherwise; SNNSEC_LAVA_SCIPY_CONV=1 restores it everywhere).
    "lava.proc.conv.utils": [
        _defer("from scipy import signal", "signal", "scipy.signal"),
        (
            re.compile(r"^(\s+)output = conv_scipy\($", re.M),
            r"\1output = __import__('snnsec._lava_conv', fromlist=['conv']).conv(conv_scipy,",
        ),
    ],
    # Lava's compiler executes every module file next to a process again, from its path, to look
    # for process models (past any finder): those files get the patches above there too
    "lava.magma.compiler.compiler_graphs": [
        (
            re.compile(r"^(\s+)module = import_utils\.module_from_spec\(spec\)\s*$", re.M),
            r"\1spec = __import__('snnsec._lava_compat', fromlist=['patched_spec']).patched_spec(spec)\n"
            r"\1module = import_utils.module_from_spec(spec)",
        ),
    ],
    # Speed: `import norse` loads this plotting module, which loads pyplot (see the docstring)
    "norse.torch.utils.plot.plot": [_defer("import matplotlib.pyplot as plt", "plt", "matplotlib.pyplot")],
    # Speed: `import norse` also imports its NIR converters, and with them nir, nirtorch and h5py
    # (nir's file format): 0.1 s of every process start-up for code that runs on NIR files only
    "norse.torch.utils.import_nir": [_defer("import nir", "nir", "nir"), _defer("import nirtorch", "nirtorch", "nirtorch")],
    "norse.torch.utils.export_nir": [
        _defer("import nir", "nir", "nir"),
        (
            re.compile(r"^from nirtorch import extract_nir_graph\s*$", re.M),
            "def extract_nir_graph(*args, **kwargs):  # snnsec: nirtorch is imported at the first call\n"
            "    return __import__('nirtorch').extract_nir_graph(*args, **kwargs)",
        ),
    ],
    # Speed: lava-dl's training-statistics plotter and event-animation helpers, imported with
    # netx, import pyplot
    "lava.lib.dl.slayer.utils.stats": [_defer("import matplotlib.pyplot as plt", "plt", "matplotlib.pyplot")],
    "lava.lib.dl.slayer.io": [
        _defer("from matplotlib import pyplot as plt", "plt", "matplotlib.pyplot"),
        _defer("from matplotlib import animation", "animation", "matplotlib.animation"),
    ],
    "lava.lib.dl.slayer": [
        (
            re.compile(r"^from \. import object_detection as obd\s*$", re.M),
            "try:\n    from . import object_detection as obd\nexcept ImportError:  # cv2/torchvision\n"
            "    obd = None",
        ),
    ],
}


class _PatchingLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname: str) -> CodeType:
        fullname = self.name  # the patched module's dotted name, also where Lava's compiler names it by file
        source = self.get_data(self.path).decode("utf-8")
        for pattern, replacement in _PATCHES[fullname]:
            source, count = pattern.subn(replacement, source)
            if count == 0:  # another release: say so instead of failing mysteriously later
                logging.getLogger(__name__).warning(
                    "snnsec's import-time patch for %s did not apply (pattern %r not found); "
                    "snnsec is tested with lava-nc 0.10.0, lava-dl 0.6.0 and norse 1.1.0", fullname, pattern.pattern)
        flags = __future__.annotations.compiler_flag if fullname in _POSTPONED_ANNOTATIONS else 0
        return compile(source, self.path, "exec", flags=flags, dont_inherit=True)


class _LavaCompatFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        if fullname not in _PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _PatchingLoader(fullname, spec.origin)
        return spec


def patched_spec(spec: importlib.machinery.ModuleSpec) -> importlib.machinery.ModuleSpec:
    """``spec`` with the patching loader if its file is one of the modules patched here.

    Lava's compiler looks for a process's models by executing every module file in the process's
    directory again, from ``spec_from_file_location`` (so under a bare name, past the finder); the
    rewritten ``compiler_graphs`` passes each of those specs through here."""
    origin = spec.origin or ""
    for name in _PATCHES:
        if origin.endswith(os.sep + name.replace(".", os.sep) + ".py"):
            spec.loader = _PatchingLoader(name, origin)
            break
    return spec


def install() -> None:
    """Install the import-time patches (idempotent). Must run before Lava (or Norse) is first imported."""
    if not any(isinstance(f, _LavaCompatFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _LavaCompatFinder())


def lava_status() -> tuple[bool, str]:
    """(ok, message): whether Lava's LIF process and lava-dl's NetX import in this interpreter."""
    install()
    try:
        from lava.lib.dl import netx  # noqa: F401
        from lava.proc.lif.process import LIF  # noqa: F401
    except Exception as exc:  # report any import failure verbatim: this feeds `snnsec env`
        return False, f"{type(exc).__name__}: {exc}"
    return True, "ok"
