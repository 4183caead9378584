"""RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK: instructions that hold a command line.

Shell form keeps the text as one string (`args == (text,)`, `shell_form=True`); the
build prefixes the current SHELL. Exec (JSON) form keeps the array. None of these
is expanded by the builder: the shell in the container does it.
"""

from __future__ import annotations

import re
from typing import ClassVar

from rootless_build.dockerfile.base import (
    Instruction,
    InstructionError,
    command_line,
    common,
    flags_of,
    json_or_none,
    no_flags,
)
from rootless_build.dockerfile.durations import DurationError, parse_duration
from rootless_build.dockerfile.flags import FlagKind, string_flag, strings_flag
from rootless_build.dockerfile.heredoc import Heredoc
from rootless_build.dockerfile.mounts import MountError, check_mount_syntax
from rootless_build.dockerfile.parser import Node

NETWORK_MODES = ("default", "none", "host")
SECURITY_MODES = ("sandbox", "insecure")
_MIN_INTERVAL_NS = 1_000_000  # 1ms


class Run(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "RUN"
    args: tuple[str, ...]
    shell_form: bool
    heredocs: tuple[Heredoc, ...] = ()  # bodies of `<<EOF` words in args[0], in order
    mounts: tuple[str, ...] = ()  # raw --mount specs; see mounts.parse_mount
    network: str | None = None  # --network: default, none, host
    security: str | None = None  # --security: sandbox, insecure


class Cmd(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "CMD"
    args: tuple[str, ...]
    shell_form: bool


class Entrypoint(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "ENTRYPOINT"
    args: tuple[str, ...]
    shell_form: bool


class Shell(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "SHELL"
    args: tuple[str, ...]


class Healthcheck(Instruction, frozen=True, kw_only=True):
    """test is the image config's Healthcheck.Test: ("NONE",), ("CMD", *argv) or ("CMD-SHELL", text).

    Durations are nanoseconds as in the image config; 0 means "inherit the default".
    """

    keyword: ClassVar[str] = "HEALTHCHECK"
    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


_RUN_FLAGS = {"mount": FlagKind.STRINGS, "network": FlagKind.STRING, "security": FlagKind.STRING}


def parse_run(node: Node, escape: str) -> Run:
    flags = flags_of(node, _RUN_FLAGS)
    args, shell_form = command_line(node)
    if not args:
        raise InstructionError("RUN requires at least one argument")
    network = string_flag(flags, "network")
    if network is not None and network not in NETWORK_MODES:
        raise InstructionError(f'invalid network mode "{network}"')
    security = string_flag(flags, "security")
    if security is not None and security not in SECURITY_MODES:
        raise InstructionError(f'security "{security}" is not valid')
    mounts = strings_flag(flags, "mount")
    for spec in mounts:
        try:
            check_mount_syntax(spec)
        except MountError as e:
            raise InstructionError(str(e)) from None
    return Run(
        **common(node, escape),
        args=args,
        shell_form=shell_form,
        heredocs=node.heredocs,
        mounts=mounts,
        network=network,
        security=security,
    )


def parse_cmd(node: Node, escape: str) -> Cmd:
    no_flags(node)
    args, shell_form = command_line(node)
    return Cmd(**common(node, escape), args=args, shell_form=shell_form)


def parse_entrypoint(node: Node, escape: str) -> Entrypoint:
    no_flags(node)
    args, shell_form = command_line(node)
    return Entrypoint(**common(node, escape), args=args, shell_form=shell_form)


def parse_shell(node: Node, escape: str) -> Shell:
    no_flags(node)
    array = json_or_none(node.rest)
    if array is None and node.rest:
        raise InstructionError("SHELL requires the arguments to be in JSON form")
    if not array:
        raise InstructionError("SHELL requires at least one argument")
    return Shell(**common(node, escape), args=tuple(array))


_HEALTH_FLAGS = {
    "interval": FlagKind.STRING,
    "timeout": FlagKind.STRING,
    "start-period": FlagKind.STRING,
    "start-interval": FlagKind.STRING,
    "retries": FlagKind.STRING,
}


def _interval(value: str | None, name: str) -> int:
    if value is None:
        return 0
    try:
        ns = parse_duration(value)
    except DurationError as e:
        raise InstructionError(f"--{name}: {e}") from None
    if ns != 0 and ns < _MIN_INTERVAL_NS:
        raise InstructionError(f'Interval "{name}" cannot be less than 1ms')
    return ns


def _retries(value: str | None) -> int:
    if value is None:
        return 0
    if not re.fullmatch(r"[+-]?[0-9]+", value) or not -(2**31) <= int(value) < 2**31:
        raise InstructionError(f'strconv.ParseInt: parsing "{value}": invalid syntax')
    if int(value) < 0:
        raise InstructionError(f"--retries cannot be negative ({int(value)})")
    return int(value)


def parse_healthcheck(node: Node, escape: str) -> Healthcheck:
    if not node.rest:
        raise InstructionError("HEALTHCHECK requires at least one argument")
    parts = re.split(r"\s", node.rest, maxsplit=1)
    kind, command = parts[0].upper(), (parts[1].lstrip() if len(parts) > 1 else "")
    if kind == "NONE":
        if command or node.flags:
            raise InstructionError("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(**common(node, escape), test=("NONE",))
    flags = flags_of(node, _HEALTH_FLAGS)
    if kind != "CMD":
        raise InstructionError(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    array = json_or_none(command)
    if array is not None:
        test = ("CMD", *array)
    else:
        test = ("CMD-SHELL", command) if command else ("CMD",)
    if len(test) == 1:
        raise InstructionError("Missing command after HEALTHCHECK CMD")
    return Healthcheck(
        **common(node, escape),
        test=test,
        interval=_interval(string_flag(flags, "interval"), "interval"),
        timeout=_interval(string_flag(flags, "timeout"), "timeout"),
        start_period=_interval(string_flag(flags, "start-period"), "start-period"),
        start_interval=_interval(string_flag(flags, "start-interval"), "start-interval"),
        retries=_retries(string_flag(flags, "retries")),
    )
