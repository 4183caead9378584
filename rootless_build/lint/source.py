"""What lint needs from the text that the parser drops: the comments right above each
instruction (stage and ARG descriptions, per-instruction `# check=`) and empty lines
inside a continued instruction.

Comments attach as BuildKit's parser attaches them: consecutive comment lines above an
instruction; an empty comment (`#`) starts over; so does a blank line (as BuildKit's rule
documentation says), and the directives at the top are not comments.
"""

from __future__ import annotations

from rootless_build.dockerfile.parser import Node


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines:
        lines[0] = lines[0].removeprefix("\ufeff")
    return [line.rstrip("\r") for line in lines]


def comments_above(text: str, nodes: tuple[Node, ...], first_line: int) -> dict[int, list[str]]:
    """{instruction line: [comment texts above it, '#' and blanks trimmed]}.

    `first_line` is the first line after the directives (1-based)."""
    lines = _lines(text)
    out: dict[int, list[str]] = {}
    starts = {node.line: node for node in nodes}
    comments: list[str] = []
    number = first_line
    while number <= len(lines):
        node = starts.get(number)
        if node is not None:
            out[node.line] = comments
            comments = []
            number = node.end_line + 1
            continue
        stripped = lines[number - 1].strip()
        if stripped.startswith("#"):
            comment = stripped[1:].strip()
            comments = [*comments, comment] if comment else []
        elif not stripped:
            comments = []
        number += 1
    return out


def empty_continuation_line(text: str, node: Node) -> int | None:
    """The line BuildKit reports NoEmptyContinuation at (the instruction's last line), if
    a blank line sits inside the continued instruction; None if none does."""
    lines = _lines(text)
    last = node.end_line - sum(heredoc.content.count("\n") + 1 for heredoc in node.heredocs)
    body = lines[node.line:last]  # the lines after the first, up to the instruction's end
    if any(not line.strip() for line in body):
        return last
    return None
