"""Dockerfile text -> nodes with line ranges. Knows no instruction's meaning.

Follows BuildKit's parser: directives at the top; comment lines (first non-blank
character `#`) dropped, also between continued lines; a line ending in the escape
character continues on the next (blank lines in between are skipped, with a
warning); heredoc bodies follow the line that opens them and are read verbatim.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rootless_build.dockerfile import heredoc as hd
from rootless_build.dockerfile.directives import DEFAULT_ESCAPE, DirectiveError, DirectiveReader
from rootless_build.dockerfile.words import is_json_array, split_command
from rootless_build.errors import DockerfileError
from rootless_build.record import Record, replace

_HEREDOC_KEYWORDS = frozenset({"run", "copy", "add"})


class Node(Record, frozen=True):
    """One instruction as written: keyword, flags, the rest of the text, where it is."""

    keyword: str  # as written: "run", "RUN", "Run" ...
    flags: tuple[str, ...]  # ("--from=build", "--link") with quotes removed
    rest: str  # the text after the keyword and flags, trimmed
    original: str  # the whole instruction on one line (continuations joined), trimmed
    line: int  # first line, 1-based
    end_line: int  # last line, heredoc bodies included
    heredocs: tuple[hd.Heredoc, ...] = ()

    @property
    def name(self) -> str:
        return self.keyword.lower()


class ParsedText(Record, frozen=True):
    nodes: tuple[Node, ...]
    directives: dict[str, str]
    escape: str
    warnings: tuple[str, ...]


def make_node(line: str, start: int, end: int) -> Node:
    keyword, flags, rest = split_command(line)
    return Node(keyword, flags, rest, line.strip(), start, end)


def _heredoc_target(node: Node) -> Node:
    """ONBUILD RUN <<EOF: the heredocs belong to the inner instruction."""
    if node.name == "onbuild" and node.rest:
        return make_node(node.rest, node.line, node.end_line)
    return node


def takes_heredocs(node: Node) -> bool:
    target = _heredoc_target(node)
    return target.name in _HEREDOC_KEYWORDS and not is_json_array(target.rest)


@lru_cache(maxsize=4)
def _continuation(escape: str) -> re.Pattern[str]:
    # the escape as the last non-blank character continues the line, unless it is itself escaped
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")


def _trim_continuation(line: str, escape: str) -> tuple[str, bool]:
    """(line without the continuation escape, whether the instruction continues)."""
    match = _continuation(escape).search(line)
    if not match:
        return line, False
    return line[: match.start()] + (match.group(1) or ""), True


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _is_comment(raw: str) -> bool:
    return _trim_newline(raw).lstrip().startswith("#")


def _split_lines(text: str) -> list[str]:
    """Lines keeping their "\\n" (heredoc bodies need them); only "\\n" ends a line."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    if lines[-1] == "":
        lines.pop()
    if lines:
        lines[0] = lines[0].removeprefix("\ufeff")
    return lines


class _Reader:
    def __init__(self, text: str, filename: str) -> None:
        self.lines = _split_lines(text)
        self.next_index = 0  # index of the next unread line; its number is next_index + 1
        self.filename = filename
        self.directives = DirectiveReader()
        self.warnings: list[str] = []

    def error(self, message: str, line: int | None) -> DockerfileError:
        return DockerfileError(message, self.filename, line)

    def read(self) -> tuple[str, int]:
        raw = self.lines[self.next_index]
        self.next_index += 1
        return raw, self.next_index

    def more(self) -> bool:
        return self.next_index < len(self.lines)

    def nodes(self) -> list[Node]:
        nodes = []
        while self.more():
            node = self._next_node()
            if node is not None:
                nodes.append(node)
        return nodes

    def _next_node(self) -> Node | None:
        raw, start = self.read()
        token = _trim_newline(raw).lstrip()
        try:
            self.directives.feed(token)
        except DirectiveError as e:
            raise self.error(str(e), start) from None
        escape = self.directives.escape
        line, continued = _trim_continuation("" if token.startswith("#") else token, escape)
        if not continued and line == "":
            return None
        empty_continuation = False
        while continued and self.more():
            raw, _ = self.read()
            if _is_comment(raw):
                continue
            part = _trim_newline(raw)
            if part.strip() == "":
                empty_continuation = True
                continue
            part, continued = _trim_continuation(part, escape)
            line += part
        node = make_node(line, start, self.next_index)
        if empty_continuation:
            where = f"{self.filename}:{start}"
            self.warnings.append(f"{where}: empty continuation line found in: {node.original}")
        if takes_heredocs(node):
            node = self._read_heredocs(node)
        return node

    def _read_heredocs(self, node: Node) -> Node:
        try:
            opened = hd.heredocs_in_line(node.original)
        except hd.HeredocError as e:
            raise self.error(str(e), node.line) from None
        bodies = []
        for heredoc in opened:
            content = []
            while True:
                if not self.more():
                    raise self.error("unterminated heredoc", node.line)
                raw, _ = self.read()
                candidate = _trim_newline(raw)
                if heredoc.strip_tabs:
                    candidate = candidate.lstrip("\t")
                if candidate == heredoc.name:
                    break
                content.append(raw)
            body = "".join(content)
            if heredoc.strip_tabs:
                body = hd.strip_leading_tabs(body)
            bodies.append(replace(heredoc, content=body))
        return replace(node, heredocs=tuple(bodies), end_line=self.next_index)


def parse_text(text: str, filename: str = "Dockerfile") -> ParsedText:
    """Split a Dockerfile into nodes; raises DockerfileError for directive and heredoc errors."""
    reader = _Reader(text, filename)
    nodes = reader.nodes()
    return ParsedText(
        nodes=tuple(nodes),
        directives=dict(reader.directives.values),
        escape=reader.directives.escape,
        warnings=tuple(reader.warnings),
    )


__all__ = ["DEFAULT_ESCAPE", "Node", "ParsedText", "make_node", "parse_text", "takes_heredocs"]
