"""Typed instructions: one frozen record and one parse function per instruction.

Records (rootless_build.record), not dataclasses: every command that parses a Dockerfile
defines ~25 of these classes at start-up.

`from_node(node, escape, filename)` looks the parse function up by keyword; ONBUILD is
here because it parses the instruction it wraps through the same table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar

from rootless_build.dockerfile.base import Instruction, InstructionError, common, no_flags
from rootless_build.dockerfile.copy_instructions import Add, Copy, parse_add, parse_copy
from rootless_build.dockerfile.exec_instructions import (
    Cmd,
    Entrypoint,
    Healthcheck,
    Run,
    Shell,
    parse_cmd,
    parse_entrypoint,
    parse_healthcheck,
    parse_run,
    parse_shell,
)
from rootless_build.dockerfile.from_instruction import From, parse_from
from rootless_build.dockerfile.meta_instructions import (
    Arg,
    Env,
    Expose,
    Label,
    Maintainer,
    StopSignal,
    User,
    Volume,
    Workdir,
    parse_arg,
    parse_env,
    parse_expose,
    parse_label,
    parse_maintainer,
    parse_stopsignal,
    parse_user,
    parse_volume,
    parse_workdir,
)
from rootless_build.dockerfile.parser import Node, make_node
from rootless_build.errors import DockerfileError
from rootless_build.record import replace

_ONBUILD_PREFIX = re.compile(r"^\s*ONBUILD\s*", re.IGNORECASE)


class Onbuild(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "ONBUILD"
    instruction: Instruction  # the trigger, parsed (same line numbers as the ONBUILD)
    expression: str  # the trigger's text as stored in the image config's OnBuild list


def parse_onbuild(node: Node, escape: str) -> Onbuild:
    no_flags(node)
    if not node.rest:
        raise InstructionError("ONBUILD requires at least one argument")
    inner = make_node(node.rest, node.line, node.end_line)
    trigger = inner.name.upper()
    if trigger == "ONBUILD":
        raise InstructionError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise InstructionError(f"{trigger} isn't allowed as an ONBUILD trigger")
    inner = replace(inner, heredocs=node.heredocs)
    expression = _ONBUILD_PREFIX.sub("", node.original, count=1)
    for heredoc in node.heredocs:
        expression += "\n" + heredoc.content + heredoc.name
    return Onbuild(
        **common(node, escape),
        instruction=_parse(inner, escape),
        expression=expression,
    )


PARSERS: dict[str, Callable[[Node, str], Instruction]] = {
    "add": parse_add,
    "arg": parse_arg,
    "cmd": parse_cmd,
    "copy": parse_copy,
    "entrypoint": parse_entrypoint,
    "env": parse_env,
    "expose": parse_expose,
    "from": parse_from,
    "healthcheck": parse_healthcheck,
    "label": parse_label,
    "maintainer": parse_maintainer,
    "onbuild": parse_onbuild,
    "run": parse_run,
    "shell": parse_shell,
    "stopsignal": parse_stopsignal,
    "user": parse_user,
    "volume": parse_volume,
    "workdir": parse_workdir,
}


def _parse(node: Node, escape: str) -> Instruction:
    parse = PARSERS.get(node.name)
    if parse is None:
        raise InstructionError(f"unknown instruction: {node.keyword.upper()}")
    return parse(node, escape)


def from_node(node: Node, escape: str, filename: str = "Dockerfile") -> Instruction:
    """The typed instruction for a node; DockerfileError (file:line: message) if malformed."""
    try:
        return _parse(node, escape)
    except InstructionError as e:
        raise DockerfileError(str(e), filename, node.line) from None


__all__ = [
    "PARSERS",
    "Add",
    "Arg",
    "Cmd",
    "Copy",
    "Entrypoint",
    "Env",
    "Expose",
    "From",
    "Healthcheck",
    "Instruction",
    "Label",
    "Maintainer",
    "Onbuild",
    "Run",
    "Shell",
    "StopSignal",
    "User",
    "Volume",
    "Workdir",
    "from_node",
]
