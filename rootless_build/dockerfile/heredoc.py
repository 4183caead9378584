"""Heredocs: `<<EOF`, `<<-EOF` (leading tabs stripped), `<<"EOF"` / `<<'EOF'` (no expansion).

A heredoc is recognised on RUN, COPY and ADD in shell form (also behind ONBUILD):
every word of the instruction line of the form `[fd]<<[-]WORD` opens one, and the
bodies follow the instruction line in the order the words appear.
"""

from __future__ import annotations

import re

from rootless_build.dockerfile.lexer import Lexer, LexError
from rootless_build.record import Record

_HEREDOC_WORD = re.compile(r"(\d*)<<(-?)([^<]*)\Z")
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)


class HeredocError(Exception):
    pass


class Heredoc(Record, frozen=True):
    name: str  # the delimiter, quotes removed
    content: str  # the body, each line ending in its newline; leading tabs gone for <<-
    expand: bool  # False when any part of the delimiter was quoted
    strip_tabs: bool  # written as <<-
    fd: int = 0  # 3<<EOF feeds file descriptor 3


def parse_heredoc_word(word: str) -> Heredoc | None:
    """The heredoc a word like `<<-"EOF"` opens (empty content), or None if it opens none."""
    match = _HEREDOC_WORD.match(word)
    if not match or not match.group(3):
        return None
    rest = match.group(3)
    try:
        plain = Lexer(skip_unset=True).words(rest, {})
        raw = Lexer(skip_unset=True, raw_quotes=True).words(rest, {})
    except LexError as e:
        raise HeredocError(str(e)) from None
    if len(plain) != 1 or len(raw) != 1:
        return None
    # a quote anywhere in the delimiter shows up only in the raw lexing: then no expansion
    quotes = sum(raw[0].count(q) for q in "'\"") - sum(plain[0].count(q) for q in "'\"")
    return Heredoc(
        name=plain[0],
        content="",
        expand=quotes == 0,
        strip_tabs=match.group(2) == "-",
        fd=int(match.group(1) or 0),
    )


def heredocs_in_line(line: str) -> list[Heredoc]:
    """The heredocs an instruction line opens, in order (a line the lexer rejects opens none)."""
    if "<<" not in line:
        return []  # the raw lexing keeps every character of a word: no `<<`, no heredoc
    try:
        words = Lexer(raw_quotes=True, raw_escapes=True, skip_unset=True).words(line, {})
    except LexError:
        return []
    found = []
    for word in words:
        heredoc = parse_heredoc_word(word)
        if heredoc is not None:
            found.append(heredoc)
    return found


def strip_leading_tabs(content: str) -> str:
    return _LEADING_TABS.sub("", content)
