"""Where snnsec keeps what it can rebuild: trained demo models, generated datasets, frame caches,
and :func:`cached_array`, the one way an array is read from that cache or rebuilt into it."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from platformdirs import user_cache_dir

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """``$SNNSEC_CACHE_DIR`` or the platform's user cache directory for snnsec."""
    return Path(os.environ.get("SNNSEC_CACHE_DIR") or user_cache_dir("snnsec"))


def cached_array(path: Path, build: Callable[[], np.ndarray], shape: tuple[int, ...], dtype: np.dtype | type,
                 what: str) -> np.ndarray:
    """The array cached at ``path`` if it has ``shape`` and ``dtype``, else ``build()``, cached there.

    The cache is a compressed ``.npz`` holding one array, ``data``, read with ``allow_pickle=False``:
    a file that is damaged, of another shape or type, or holds pickled objects is ignored (it runs no
    code) and replaced. It is written atomically; where it cannot be written (a read-only cache
    directory), the built array is used and a warning names the path. ``what`` names the array in
    the log."""
    expected = np.dtype(dtype)
    try:
        with np.load(path, allow_pickle=False) as data:
            array = data["data"]
        if array.shape == tuple(shape) and array.dtype == expected:
            return array
        log.warning("ignoring %s: it holds %s %s, expected %s %s", path, array.dtype, list(array.shape),
                    expected, list(shape))
    except (OSError, ValueError, KeyError, EOFError):  # missing, damaged, pickled, not a zip
        pass
    log.info("building %s (cached at %s)", what, path)
    array = build()
    if array.shape != tuple(shape) or array.dtype != expected:  # a bug, not bad input
        raise AssertionError(f"{what}: built {array.dtype} {list(array.shape)}, expected {expected} {list(shape)}")
    from snnsec.utils.io import atomic_write

    try:
        with atomic_write(path, "wb") as fh:
            np.savez_compressed(fh, data=array)
    except OSError as exc:
        log.warning("could not cache %s at %s (%s); it stays in memory", what, path, exc)
    return array
