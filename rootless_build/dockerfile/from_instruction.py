"""FROM [--platform=p] image [AS name]: the start of a build stage."""

from __future__ import annotations

import re
from typing import ClassVar

from rootless_build.dockerfile.base import Instruction, InstructionError, common, flags_of
from rootless_build.dockerfile.flags import FlagKind, string_flag
from rootless_build.dockerfile.parser import Node
from rootless_build.dockerfile.words import go_quote, split_whitespace

_STAGE_NAME = re.compile(r"[a-z][a-z0-9-_.]*\Z")


class From(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "FROM"
    image: str  # as written (may hold ${ARG}s); "scratch" or a stage name are possible
    name: str | None = None  # the AS alias, lowercased as docker does
    platform: str | None = None  # --platform, as written


def parse_from(node: Node, escape: str) -> From:
    args = split_whitespace(node.rest)
    name = None
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise InstructionError(
                f"invalid name for build stage: {go_quote(args[2])}, "
                "name can't start with a number or contain symbols"
            )
    elif len(args) != 1:
        raise InstructionError("FROM requires either one or three arguments")
    flags = flags_of(node, {"platform": FlagKind.STRING})
    return From(**common(node, escape), image=args[0], name=name, platform=string_flag(flags, "platform"))
