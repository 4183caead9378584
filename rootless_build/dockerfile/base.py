"""What every instruction carries, and the helpers their parse functions share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rootless_build.dockerfile.flags import FlagError, FlagKind, FlagValue, parse_flags
from rootless_build.dockerfile.parser import Node
from rootless_build.dockerfile.words import WordsError, parse_json_array, split_whitespace
from rootless_build.record import Record


class InstructionError(Exception):
    """A malformed instruction; `instructions.from_node` turns it into a DockerfileError at its line."""


class Instruction(Record, frozen=True, kw_only=True):
    keyword: ClassVar[str] = ""  # "RUN", "COPY", ...: what build/ dispatches on

    line: int  # first line, 1-based
    end_line: int  # last line (continuations and heredoc bodies included)
    original: str  # the instruction as docker shows it in history: one line, trimmed
    escape: str = "\\"  # the Dockerfile's escape character, for expansion


def common(node: Node, escape: str) -> dict[str, Any]:
    return {"line": node.line, "end_line": node.end_line, "original": node.original, "escape": escape}


def flags_of(node: Node, accepted: Mapping[str, FlagKind]) -> dict[str, FlagValue]:
    try:
        return parse_flags(node.flags, accepted)
    except FlagError as e:
        raise InstructionError(str(e)) from None


def no_flags(node: Node) -> None:
    flags_of(node, {})


def json_or_none(rest: str) -> list[str] | None:
    try:
        return parse_json_array(rest)
    except WordsError as e:
        raise InstructionError(str(e)) from None


def command_line(node: Node) -> tuple[tuple[str, ...], bool]:
    """(args, shell_form) for RUN/CMD/ENTRYPOINT: the JSON array, or the whole text as one string."""
    array = json_or_none(node.rest)
    if array is not None:
        return tuple(array), False
    return ((node.rest,) if node.rest else ()), True


def json_or_fields(rest: str) -> tuple[tuple[str, ...], bool]:
    """(args, json_form) for COPY/ADD/VOLUME: the JSON array, or blank-separated fields."""
    array = json_or_none(rest)
    if array is not None:
        return tuple(array), True
    return tuple(split_whitespace(rest)), False
