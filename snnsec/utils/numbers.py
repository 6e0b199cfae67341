"""Parsing of exact numbers such as ``8/255`` (attack budgets are stored the way users wrote them)."""

from __future__ import annotations

from fractions import Fraction

from snnsec.errors import InputError


def parse_fraction(text: str | float | int, name: str = "value") -> float:
    """``'8/255'`` -> 0.03137..., ``'0.02'`` -> 0.02; anything else is an :class:`InputError`."""
    import math

    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        try:
            value = float(Fraction(str(text).strip()))
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            raise InputError(
                f"{name} must be a number or a fraction such as 8/255, got {text!r}"
            ) from None
    if not math.isfinite(value):
        raise InputError(f"{name} must be a finite number or a fraction such as 8/255, got {text!r}")
    return value


def parse_number(text: str | float | int, name: str = "value") -> float:
    """A finite float from a number or its text; ``nan``, ``inf`` and ``1e400`` are refused."""
    import math

    try:
        value = float(text.strip() if isinstance(text, str) else text)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {text!r}")
    return value
