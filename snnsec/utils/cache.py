"""Where snnsec keeps what it can rebuild: trained demo models, generated datasets, frame caches."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir


def cache_dir() -> Path:
    """``$SNNSEC_CACHE_DIR`` or the platform's user cache directory for snnsec."""
    return Path(os.environ.get("SNNSEC_CACHE_DIR") or user_cache_dir("snnsec"))
