"""Atomic file output and content hashes.

Every file snnsec writes goes through :func:`atomic_write`: the data lands in a temporary file in
the same directory, is flushed to disk, and then replaces the target with ``os.replace``. A run
killed at any moment leaves either the old file or the complete new one, never a torn file. A
stop signal (Ctrl-C, SIGTERM, SIGHUP) that arrives during the write is held until the file is in
place (:func:`snnsec.utils.signals.deferred`), so a stopped command keeps the file it was writing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; rename it over ``path`` on success.

    The caller's block writes the file and nothing else: a stop signal waits for it to end."""
    from snnsec.utils.signals import deferred

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with deferred():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, mode) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save`` through :func:`atomic_write`."""
    import torch

    with atomic_write(path, "wb") as fh:
        torch.save(obj, fh)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_write(path, "w") as fh:
        fh.write(text)


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (used to tie adversarial examples to the model they attack)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def safe_torch_load(path: str | os.PathLike[str], kind: str, fmt: str | None = None,
                    version: int | None = None, hint: str = "") -> dict[str, Any]:
    """Load a torch file with the weights-only unpickler and check its ``format`` header.

    The one safe way snnsec reads ``.pt`` files: tensors and plain data only, so a file that
    holds any other object is refused (never unpickled). Every failure is one
    :class:`~snnsec.errors.InputError` line naming the file, what was found and what was expected;
    torch's own advice to retry with ``weights_only=False`` is never repeated.

    Args:
        path: the file. kind: what it should be, for messages (``"model file"``).
        fmt, version: the expected ``format`` and ``format_version`` entries (``None``: any
            dict). hint: what writes such files, for the not-found message.
    """
    import pickle
    import warnings
    import zipfile

    import torch

    from snnsec.errors import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{kind} not found: {path}" + (f" (expected {hint})" if hint else ""))
    try:
        with warnings.catch_warnings():  # torch's warnings about foreign pickles would break the one line
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = _first_line(str(exc)) or type(exc).__name__
        if "Unsupported operand" in first or "invalid load key" in first:  # not a pickle at all
            raise InputError(f"cannot read {path} as an snnsec {kind} (not a torch file: {first})") from None
        raise InputError(f"refused to load {path}: it holds objects other than tensors and plain data "
                         f"(weights-only unpickler: {first})") from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError, IndexError, KeyError) as exc:
        raise InputError(f"cannot read {path} as an snnsec {kind} (truncated or not a torch file: "
                         f"{_first_line(str(exc)) or type(exc).__name__})") from None
    if not isinstance(payload, dict):
        raise InputError(f"{path} is not an snnsec {kind}: it holds a {type(payload).__name__}, expected a dict")
    if fmt is not None and payload.get("format") != fmt:
        raise InputError(f"{path} is not an snnsec {kind} (format {payload.get('format')!r}, expected {fmt!r})")
    if version is not None and payload.get("format_version") != version:
        raise InputError(f"{path} has {kind} format version {payload.get('format_version')!r}; "
                         f"this snnsec reads version {version}")
    return payload


def _first_line(text: str) -> str:
    """The first non-empty line of a message, without torch's ``weights_only=False`` advice."""
    for line in text.strip().splitlines():
        line = line.strip()
        if line and "weights_only" not in line and not line.lower().startswith("please"):
            return line
    return ""
