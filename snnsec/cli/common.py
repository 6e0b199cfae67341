"""Conventions shared by every command.

- ``--json`` prints exactly one JSON object on stdout; progress and logs go to stderr.
- Errors are one line on stderr; exit 2 for bad usage or input, 1 for a runtime failure,
  130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP. A traceback only with ``--debug``.
- Arguments and output paths are checked before any work; a refused command creates nothing.
"""

from __future__ import annotations

import argparse
import contextlib
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
    group.add_argument("--force", action="store_true",
                       help="run even past the cost bounds (a model or step count implying far more memory or "
                            "time than this machine has)")


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


def write_report(path: str | os.PathLike[str], result: dict[str, Any]) -> None:
    """Write ``result`` atomically as the one JSON line ``--json`` prints."""
    from snnsec.utils.io import atomic_write_text

    atomic_write_text(path, json.dumps(_jsonable(result), sort_keys=False) + "\n")


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
    """Run a command function with snnsec's error conventions.

    Arguments and output paths are checked first (:func:`check_arguments`,
    :func:`check_output_paths`), so a refused command has done no work and created nothing.
    SIGINT, SIGTERM and SIGHUP stop it cleanly (exit 130, 143, 129; :mod:`snnsec.utils.signals`).
    """
    from snnsec.utils import signals
    from snnsec.utils.schema import cost_bound_lifted

    configure(args)
    debug = getattr(args, "debug", False)
    try:
        with signals.stop_signals_raise(), cost_bound_lifted(bool(getattr(args, "force", False))):
            check_arguments(args)
            check_output_paths(args)
            return int(func(args) or 0)
    except SnnsecError as exc:
        if debug:
            raise
        sys.stderr.write(f"snnsec: error: {_one_line(exc)}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        if debug:
            raise
        code = signals.exit_code()
        sys.stderr.write(f"snnsec: interrupted ({signals.name()}); partial work is kept for a resume\n")
        return code
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
        if debug:
            raise
        sys.stderr.write(f"snnsec: error: {type(exc).__name__}: {_one_line(exc)} (rerun with --debug for a traceback)\n")
        return 1


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


# -- checks at the door ----------------------------------------------------------------------
# Paths a command reads (files or folders) and writes; every command names them alike.
INPUT_PATHS = ("model", "adv", "substitute", "nir", "reference", "study", "data_dir")
OUTPUT_FILES = ("out", "save_net")
OUTPUT_DIRS = ("out_dir",)

# name -> (low, high, low_open); an argument missing here is only checked to be finite.
FLOAT_RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    "lr": (0.0, 1e3, True), "momentum": (0.0, 1.0, False), "weight_decay": (0.0, 1.0, False),
    "beta": (0.0, 1e6, True),  # leak, theta, gamma: the neuron's own checks name them
    "width": (0.0, 1024.0, True), "input_scale": (0.0, 1e9, True), "tau": (0.0, 1.0, True), "dt": (0.0, 1e6, True),
}
# name -> (low, sane maximum; past it only with --force)
INT_RANGES: dict[str, tuple[int, int]] = {
    "n": (1, 10**9), "batch_size": (1, 1 << 16), "eval_batch_size": (1, 1 << 16), "epochs": (1, 100_000),
    "T": (1, 100_000), "te": (1, 1000), "eot": (1, 10_000), "runs": (1, 10_000), "max_points": (1, 10**8),
    "size": (1, 1 << 14), "seed": (0, 2**63 - 1), "opt_steps": (1, 100_000),
}


def check_arguments(args: argparse.Namespace) -> None:
    """Numbers finite and in range, counts positive with a sane maximum (past it only with
    ``--force``), budgets parsable: before any work, in one line naming the flag."""
    from snnsec.errors import InputError
    from snnsec.utils.numbers import parse_fraction, parse_number

    force = bool(getattr(args, "force", False))
    for name, value in sorted(vars(args).items()):
        flag = "--" + (name[len("opt_"):] if name.startswith("opt_") else name).replace("_", "-")
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, float):
            if not math.isfinite(value):
                raise InputError(f"{flag} must be a finite number, got {value!r}")
            low, high, low_open = FLOAT_RANGES.get(name, (None, None, False))
            if (low is not None and (value <= low if low_open else value < low)) or (high is not None and value > high):
                left = "(" if low_open else "["
                raise InputError(f"{flag} is {value!r}; expected a number in {left}{low:g}, {high:g}]")
        elif isinstance(value, int) and name in INT_RANGES:
            _check_count(flag, value, *INT_RANGES[name], force)
        elif isinstance(value, str) and name == "eps":
            if parse_fraction(value, flag) < 0:
                raise InputError(f"{flag} is {value!r}; expected a budget >= 0")
        elif isinstance(value, str) and name in INT_RANGES:  # estimator/optimizer flags arrive as text
            number = parse_number(value, flag)
            if number != int(number):
                raise InputError(f"{flag} is {value!r}; expected an integer")
            _check_count(flag, int(number), *INT_RANGES[name], force)
    width = getattr(args, "width", None)
    if isinstance(width, float) and not force:  # a model to build: its weights alone must fit
        from snnsec.utils.schema import gib, estimated_bytes, memory_bytes

        need, have = estimated_bytes(1, width, 1), memory_bytes()
        if need > have:
            raise InputError(f"--width {width:g} implies about {gib(need)} of weights; this machine has "
                             f"{gib(have)} (pass --force to try anyway)")


# what a count is called in the message where the thing it configures has its own name for it
COUNT_NAMES = {"te": "time extension factor", "eot": "EOT draw count"}


def _check_count(flag: str, value: int, low: int, high: int, force: bool) -> None:
    from snnsec.errors import InputError

    if value < low:
        name = COUNT_NAMES.get(flag.lstrip("-").replace("-", "_"), flag)
        if low == 1:
            raise InputError(f"{name} must be a positive integer, got {value}")
        raise InputError(f"{name} is {value}; expected an integer >= {low}")
    if value > high:
        if not force:
            raise InputError(f"{flag} is {value}; expected at most {high} (pass --force to run it anyway)")
        log.warning("%s %d is past the sane maximum %d; --force given, running anyway", flag, value, high)


def _paths(args: argparse.Namespace, names: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    for name in names:
        value = getattr(args, name, None)
        if value is not None:
            out.append(("--" + name.replace("_", "-"), os.fspath(value)))
    return out


def check_output_paths(args: argparse.Namespace) -> None:
    """Every output path must be writable and must not be (through a symlink or a hard link)
    one of the command's inputs. Checks only; nothing is created."""
    from snnsec.errors import InputError

    inputs = _paths(args, INPUT_PATHS)
    for flag, text in _paths(args, OUTPUT_FILES):
        check_output_file(flag, text, inputs)
    for flag, text in _paths(args, OUTPUT_DIRS):
        if text.strip() == "":
            raise InputError(f"{flag} is empty; expected a folder path")
        if os.path.exists(text) and not os.path.isdir(text):
            raise InputError(f"{flag} {text} is a file; expected a folder")
        _check_writable(flag, text)
        for in_flag, in_text in inputs:
            if _same(text, in_text):
                raise InputError(f"{flag} {text} is the same as {in_flag} {in_text}; the output would overwrite the input")


def check_output_file(flag: str, text: str, inputs: list[tuple[str, str]]) -> None:
    """One output file: not empty, not a folder, a writable folder to go in, not an input."""
    from snnsec.errors import InputError

    if text.strip() in ("", "."):
        raise InputError(f"{flag} is {text!r}; expected a file path")
    if os.path.isdir(text) or text.endswith(os.sep):
        raise InputError(f"{flag} {text} is a folder; expected a file path")
    if os.path.lexists(text) and os.path.exists(text) and not os.path.isfile(text):
        raise InputError(f"{flag} {text} is not a regular file; expected a file path")
    for in_flag, in_text in inputs:
        if _same(text, in_text):
            raise InputError(f"{flag} {text} is the same file as {in_flag} {in_text}; "
                             "the output would destroy the input (choose another path)")
    _check_writable(flag, text, parent=True)


def _same(a: str, b: str) -> bool:
    """Whether two paths name one file: same resolved path, or same inode and device (through
    symlinks and hard links)."""
    with contextlib.suppress(OSError, ValueError):
        if os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b):
            return True
    with contextlib.suppress(OSError, ValueError):
        return os.path.realpath(a) == os.path.realpath(b)
    return False


def _check_writable(flag: str, text: str, parent: bool = False) -> None:
    """The nearest existing folder on the way to ``text`` must be a writable folder."""
    from snnsec.errors import InputError

    path = os.path.abspath(text)
    probe = os.path.dirname(path) if parent else path
    while not os.path.exists(probe):
        up = os.path.dirname(probe)
        if up == probe:
            break
        probe = up
    if not os.path.isdir(probe):
        raise InputError(f"{flag} {text}: {probe} is not a folder; expected a path inside a writable folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {text}: the folder {probe} is not writable")
