"""ENV, LABEL, ARG, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL, MAINTAINER.

Values are kept as written, quotes and escapes included (`ENV A="x y"` holds `"x y"`):
docker removes quotes while it expands variables, so `expanded()` does both at once.
"""

from __future__ import annotations

from typing import ClassVar

from rootless_build.dockerfile.base import Instruction, InstructionError, common, json_or_fields, no_flags
from rootless_build.dockerfile.parser import Node
from rootless_build.dockerfile.ports import PortError, check_literal_port
from rootless_build.dockerfile.words import WordsError, parse_name_values, parse_words, split_whitespace
from rootless_build.record import Record


class KeyValue(Record, frozen=True):
    key: str
    value: str


class ArgDef(Record, frozen=True):
    name: str
    default: str | None = None  # None: `ARG name` without a value


class Env(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "ENV"
    pairs: tuple[KeyValue, ...]


class Label(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "LABEL"
    pairs: tuple[KeyValue, ...]


class Arg(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "ARG"
    args: tuple[ArgDef, ...]


class Workdir(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "WORKDIR"
    path: str


class User(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "USER"
    user: str  # user[:group], names or ids


class Expose(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "EXPOSE"
    ports: tuple[str, ...]  # specs as written; ports.exposed_ports() gives the config keys


class Volume(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "VOLUME"
    paths: tuple[str, ...]


class StopSignal(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "STOPSIGNAL"
    signal: str


class Maintainer(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "MAINTAINER"
    name: str


def _pairs(node: Node, escape: str, keyword: str) -> tuple[KeyValue, ...]:
    no_flags(node)
    try:
        pairs = parse_name_values(node.rest, keyword, escape)
    except WordsError as e:
        raise InstructionError(str(e)) from None
    if not pairs:
        raise InstructionError(f"{keyword} requires at least one argument")
    if any(key == "" for key, _ in pairs):
        raise InstructionError(f"{keyword} names can not be blank")
    return tuple(KeyValue(key, value) for key, value in pairs)


def parse_env(node: Node, escape: str) -> Env:
    return Env(**common(node, escape), pairs=_pairs(node, escape, "ENV"))


def parse_label(node: Node, escape: str) -> Label:
    return Label(**common(node, escape), pairs=_pairs(node, escape, "LABEL"))


def parse_arg(node: Node, escape: str) -> Arg:
    no_flags(node)
    words = parse_words(node.rest, escape)
    if not words:
        raise InstructionError("ARG requires at least one argument")
    args = []
    for word in words:
        name, has_default, default = word.partition("=")
        if has_default and not name:
            raise InstructionError("ARG names can not be blank")
        args.append(ArgDef(name, default if has_default else None))
    return Arg(**common(node, escape), args=tuple(args))


def _one_argument(node: Node, keyword: str) -> str:
    no_flags(node)
    if not node.rest:
        raise InstructionError(f"{keyword} requires exactly one argument")
    return node.rest


def parse_workdir(node: Node, escape: str) -> Workdir:
    return Workdir(**common(node, escape), path=_one_argument(node, "WORKDIR"))


def parse_user(node: Node, escape: str) -> User:
    return User(**common(node, escape), user=_one_argument(node, "USER"))


def parse_stopsignal(node: Node, escape: str) -> StopSignal:
    return StopSignal(**common(node, escape), signal=_one_argument(node, "STOPSIGNAL"))


def parse_maintainer(node: Node, escape: str) -> Maintainer:
    return Maintainer(**common(node, escape), name=_one_argument(node, "MAINTAINER"))


def parse_expose(node: Node, escape: str) -> Expose:
    no_flags(node)
    ports = tuple(split_whitespace(node.rest))
    if not ports:
        raise InstructionError("EXPOSE requires at least one argument")
    for spec in ports:
        try:
            check_literal_port(spec)
        except PortError as e:
            raise InstructionError(str(e)) from None
    return Expose(**common(node, escape), ports=ports)


def parse_volume(node: Node, escape: str) -> Volume:
    no_flags(node)
    paths, _ = json_or_fields(node.rest)
    if not paths:
        raise InstructionError("VOLUME requires at least one argument")
    if any(not path.strip() for path in paths):
        raise InstructionError("VOLUME specified can not be an empty string")
    return Volume(**common(node, escape), paths=tuple(path.strip() for path in paths))
