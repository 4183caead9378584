"""Instruction flags (`--from=build`, `--link`, `--mount=...` repeated) checked against what
the instruction accepts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum


class FlagKind(Enum):
    BOOL = "bool"  # --link, --link=true, --link=false
    STRING = "string"  # --from=x, once
    STRINGS = "strings"  # --mount=a --mount=b


class FlagError(Exception):
    pass


FlagValue = bool | str | tuple[str, ...]


def parse_flags(raw: Sequence[str], accepted: Mapping[str, FlagKind]) -> dict[str, FlagValue]:
    """The flags given, by name (without `--`); a flag not given is absent from the result."""
    values: dict[str, FlagValue] = {}
    for flag in raw:
        name, has_value, value = flag[2:].partition("=")
        kind = accepted.get(name)
        if kind is None:
            raise FlagError(f"unknown flag: --{name}")
        if name in values and kind is not FlagKind.STRINGS:
            raise FlagError(f"duplicate flag specified: --{name}")
        if kind is FlagKind.BOOL:
            if has_value and value == "":
                raise FlagError(f"missing a value on flag: --{name}")
            if value.lower() not in ("", "true", "false"):
                raise FlagError(f"expecting boolean value for flag --{name}, not: {value}")
            values[name] = value.lower() != "false"
        elif not has_value:
            raise FlagError(f"missing a value on flag: --{name}")
        elif kind is FlagKind.STRING:
            values[name] = value
        else:
            previous = values.get(name, ())
            assert isinstance(previous, tuple)
            values[name] = (*previous, value)
    return values


def string_flag(values: Mapping[str, FlagValue], name: str) -> str | None:
    """A string flag's value; an empty value (`--chown=`) counts as not given, as in docker."""
    value = values.get(name)
    assert value is None or isinstance(value, str)
    return value or None


def bool_flag(values: Mapping[str, FlagValue], name: str) -> bool:
    value = values.get(name, False)
    assert isinstance(value, bool)
    return value


def strings_flag(values: Mapping[str, FlagValue], name: str) -> tuple[str, ...]:
    value = values.get(name, ())
    assert isinstance(value, tuple)
    return value
