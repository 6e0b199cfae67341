"""Exceptions that the CLI turns into one-line messages.

``InputError`` means the user gave something wrong (a path, a name, a file of the wrong kind):
the CLI exits with status 2. ``SnnsecError`` is a runtime failure: status 1.
"""

from __future__ import annotations

from collections.abc import Iterable


class SnnsecError(Exception):
    """A failure snnsec can explain in one line (exit status 1)."""

    exit_code = 1


class InputError(SnnsecError, ValueError):
    """Bad usage or bad input: names what was wrong and what was expected (exit status 2)."""

    exit_code = 2


def unknown_choice(kind: str, value: object, choices: Iterable[str]) -> InputError:
    """``unknown attack 'rga-pdg'; choose one of: rga-fgsm, rga-pgd, ...``"""
    return InputError(f"unknown {kind} {value!r}; choose one of: {', '.join(sorted(choices))}")


def unknown_option(owner: str, name: str, valid: Iterable[str]) -> InputError:
    """``gradient estimator 'rga' takes no option omega; its options: beta, gamma, time_chunk``:
    the one error for an option that the thing being configured does not have."""
    names = ", ".join(sorted(valid)) or "none"
    return InputError(f"{owner} takes no option {name}; its options: {names}")
