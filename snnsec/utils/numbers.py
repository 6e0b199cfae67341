"""Parsing of exact numbers such as ``8/255`` (attack budgets are stored the way users wrote them)."""

from __future__ import annotations

from fractions import Fraction

from snnsec.errors import InputError


def parse_fraction(text: str | float | int, name: str = "value") -> float:
    """``'8/255'`` -> 0.03137..., ``'0.02'`` -> 0.02; anything else is an :class:`InputError`."""
    if isinstance(text, (int, float)):
        return float(text)
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise InputError(
            f"{name} must be a number or a fraction such as 8/255, got {text!r}"
        ) from None
    return float(value)
