"""Options declared once, on the class that uses them.

Estimators, optimizers and other pluggable parts are dataclasses. Each init field is an option:
its name, type and default come from the field, its ``--help`` text from
``field(metadata={"help": ...})``, and ``metadata={"fraction": True}`` marks a number that users
may write as a fraction (``2/255``, kept as written in metadata). The CLI builds its flags from
these fields, ``AttackSpec`` stores them, and every unknown option is refused with
:func:`snnsec.errors.unknown_option`'s one line.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from snnsec.errors import InputError, unknown_option
from snnsec.utils.numbers import parse_fraction, parse_number


def option_fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    """The user-settable options of a dataclass, by name (init fields not starting with ``_``)."""
    if not dataclasses.is_dataclass(cls):
        return {}
    return {f.name: f for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")}


def option_kind(f: dataclasses.Field[Any]) -> str:
    """``bool``, ``int``, ``float``, ``fraction`` or ``str``, from the field's metadata and type."""
    if f.metadata.get("fraction"):
        return "fraction"
    text = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    first = text.split("|")[0].strip()
    return first if first in ("bool", "int", "float") else "str"


def option_help(f: dataclasses.Field[Any], with_default: bool = True) -> str:
    """The option's help text (without its owner's ``name:`` prefix when ``with_default`` is
    off, for a flag several classes share)."""
    text = str(f.metadata.get("help", "")).strip()
    if not with_default:
        head, sep, rest = text.partition(": ")
        return rest if sep and " " not in head else text
    default = f.default if f.default is not dataclasses.MISSING else None
    return f"{text} (default: {default})" if text else f"default: {default}"


def coerce_option(owner: str, f: dataclasses.Field[Any], value: Any) -> Any:
    """``value`` as the option's type; strings (from the CLI or JSON) are parsed, bad ones refused."""
    kind = option_kind(f)
    name = f"{owner} option {f.name}"
    if kind == "fraction":
        return parse_fraction(value, name)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.strip().lower() in ("1", "true", "yes", "on")
        raise InputError(f"{name} must be true or false, got {value!r}")
    if kind in ("int", "float"):
        if isinstance(value, bool):
            raise InputError(f"{name} must be a number, got {value!r}")
        number = parse_number(value, name)
        if kind == "int":
            if number != int(number):
                raise InputError(f"{name} must be a whole number, got {value!r}")
            return int(number)
        return number
    return value if isinstance(value, str) else str(value)


def build_options(cls: type, owner: str, options: dict[str, Any]) -> Any:
    """``cls(**options)`` with every option checked: ``None`` keeps a default, unknown names are
    refused in one line, values are coerced to the declared types."""
    fields = option_fields(cls)
    given = {k: v for k, v in options.items() if v is not None}
    for key in given:
        if key not in fields:
            raise unknown_option(owner, key, fields)
    try:
        return cls(**{k: coerce_option(owner, fields[k], v) for k, v in given.items()})
    except TypeError as exc:  # a dataclass refusing its arguments: say which
        raise InputError(f"{owner}: {exc}") from None


def is_optional(f: dataclasses.Field[Any]) -> bool:
    text = f.type if isinstance(f.type, str) else str(f.type)
    return "None" in text or typing.get_origin(f.type) is typing.Union
