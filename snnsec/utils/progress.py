"""Progress bars on stderr (never stdout, which ``--json`` reserves for one JSON object)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress_enabled() -> bool:
    """Bars are on unless ``SNNSEC_PROGRESS=0`` (the CLI's ``--quiet`` sets it)."""
    return os.environ.get("SNNSEC_PROGRESS", "1") != "0"


def progress(iterable: Iterable[T] | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr that respects ``SNNSEC_PROGRESS``."""
    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("leave", False)
    kwargs.setdefault("disable", not progress_enabled())
    return tqdm(iterable, **kwargs)
