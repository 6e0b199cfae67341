"""Conventions shared by every command.

- ``--json`` prints exactly one JSON object on stdout; progress and logs go to stderr.
- Errors are one line on stderr; exit 2 for bad usage or input, 1 for a runtime failure,
  130 for Ctrl-C. A traceback only with ``--debug``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from collections.abc import Callable
from typing import Any

from snnsec.errors import SnnsecError

log = logging.getLogger("snnsec")


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the hand-written layout of descriptions and shows every default that says something."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or action.default is False or "default" in text:
            return text
        return super()._get_help_string(action)


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Options every command accepts."""
    group = parser.add_argument_group("output")
    group.add_argument("--json", action="store_true", help="print one JSON object on stdout (logs go to stderr)")
    group.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    group.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return _jsonable(obj.item())
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def emit(args: argparse.Namespace, result: dict[str, Any], human: Callable[[dict[str, Any]], str]) -> None:
    """Print ``result`` as one JSON object (``--json``) or as human-readable text."""
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(_jsonable(result), sort_keys=False) + "\n")
    else:
        sys.stdout.write(human(result).rstrip("\n") + "\n")
    sys.stdout.flush()


def configure(args: argparse.Namespace) -> None:
    quiet = getattr(args, "quiet", False)
    if quiet:
        os.environ["SNNSEC_PROGRESS"] = "0"
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
        force=True,  # norse's import calls logging.debug(), which already configured the root logger
    )


def run_command(func: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run a command function with snnsec's error conventions."""
    configure(args)
    debug = getattr(args, "debug", False)
    try:
        return int(func(args) or 0)
    except SnnsecError as exc:
        if debug:
            raise
        sys.stderr.write(f"snnsec: error: {_one_line(exc)}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        if debug:
            raise
        sys.stderr.write("snnsec: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
        if debug:
            raise
        sys.stderr.write(f"snnsec: error: {type(exc).__name__}: {_one_line(exc)} (rerun with --debug for a traceback)\n")
        return 1


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
