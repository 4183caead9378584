"""COPY and ADD: sources and a destination, from the context, a stage, an image or a heredoc.

Sources and destination stay as written (`expanded()` expands them); in shell form they
are blank-separated, so a path with a blank needs the JSON form, as in docker.
"""

from __future__ import annotations

from typing import ClassVar

from rootless_build.dockerfile.base import Instruction, InstructionError, common, flags_of, json_or_fields
from rootless_build.dockerfile.flags import FlagKind, FlagValue, bool_flag, string_flag, strings_flag
from rootless_build.dockerfile.heredoc import Heredoc, HeredocError, parse_heredoc_word
from rootless_build.dockerfile.parser import Node
from rootless_build.record import Record


class Copy(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "COPY"
    sources: tuple[str, ...]  # paths (heredoc sources are in `heredocs`)
    dest: str
    heredocs: tuple[Heredoc, ...] = ()  # `COPY <<EOF /dest`: file EOF with this content
    from_: str | None = None  # --from: stage name, stage index or image
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    parents: bool = False
    excludes: tuple[str, ...] = ()


class Add(Instruction, frozen=True, kw_only=True):
    keyword: ClassVar[str] = "ADD"
    sources: tuple[str, ...]  # paths, URLs, git repositories
    dest: str
    heredocs: tuple[Heredoc, ...] = ()
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    keep_git_dir: bool = False
    checksum: str | None = None
    excludes: tuple[str, ...] = ()


_COPY_FLAGS = {
    "from": FlagKind.STRING,
    "chown": FlagKind.STRING,
    "chmod": FlagKind.STRING,
    "link": FlagKind.BOOL,
    "parents": FlagKind.BOOL,
    "exclude": FlagKind.STRINGS,
}
_ADD_FLAGS = {
    "chown": FlagKind.STRING,
    "chmod": FlagKind.STRING,
    "link": FlagKind.BOOL,
    "keep-git-dir": FlagKind.BOOL,
    "checksum": FlagKind.STRING,
    "exclude": FlagKind.STRINGS,
}


def _heredoc_word(word: str) -> Heredoc | None:
    try:
        return parse_heredoc_word(word)
    except HeredocError as e:
        raise InstructionError(str(e)) from None


class _Operands(Record, frozen=True):
    sources: tuple[str, ...]
    dest: str
    heredocs: tuple[Heredoc, ...]


def _sources_and_dest(
    node: Node, keyword: str, accepted: dict[str, FlagKind]
) -> tuple[dict[str, FlagValue], _Operands]:
    args, _ = json_or_fields(node.rest)
    if len(args) < 2:
        raise InstructionError(
            f"{keyword} requires at least two arguments, but only one was provided. "
            "Destination could not be determined"
        )
    flags = flags_of(node, accepted)
    if _heredoc_word(args[-1]) is not None:
        raise InstructionError(f"{keyword} cannot accept a heredoc as a destination")
    bodies = {h.name: h for h in node.heredocs}
    paths: list[str] = []
    heredocs: list[Heredoc] = []
    for word in args[:-1]:
        opened = _heredoc_word(word)
        if opened is None:
            paths.append(word)
        else:
            heredocs.append(bodies.get(opened.name, opened))  # JSON form: no body, empty file
    return flags, _Operands(tuple(paths), args[-1], tuple(heredocs))


def parse_copy(node: Node, escape: str) -> Copy:
    flags, operands = _sources_and_dest(node, "COPY", _COPY_FLAGS)
    return Copy(
        **common(node, escape),
        sources=operands.sources,
        dest=operands.dest,
        heredocs=operands.heredocs,
        from_=string_flag(flags, "from"),
        chown=string_flag(flags, "chown"),
        chmod=string_flag(flags, "chmod"),
        link=bool_flag(flags, "link"),
        parents=bool_flag(flags, "parents"),
        excludes=strings_flag(flags, "exclude"),
    )


def parse_add(node: Node, escape: str) -> Add:
    flags, operands = _sources_and_dest(node, "ADD", _ADD_FLAGS)
    return Add(
        **common(node, escape),
        sources=operands.sources,
        dest=operands.dest,
        heredocs=operands.heredocs,
        chown=string_flag(flags, "chown"),
        chmod=string_flag(flags, "chmod"),
        link=bool_flag(flags, "link"),
        keep_git_dir=bool_flag(flags, "keep-git-dir"),
        checksum=string_flag(flags, "checksum"),
        excludes=strings_flag(flags, "exclude"),
    )
