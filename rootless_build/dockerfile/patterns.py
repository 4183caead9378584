"""Shell patterns of `${v#pat}`, `${v%pat}` and `${v/pat/repl}`: `*` and `?` only, no brackets."""

from __future__ import annotations

import re


class PatternError(Exception):
    pass


def to_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    pos = 0
    while pos < len(pattern):
        ch = pattern[pos]
        pos += 1
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            # `\}` and `\/` only protect the ${} syntax; they are not part of the pattern
            if pos < len(pattern) and pattern[pos] in "}/":
                continue
            escaped = pattern[pos] if pos < len(pattern) else ""
            if escaped not in ("*", "?", "\\") or not escaped:
                raise PatternError(f"invalid escape '\\{escaped}'")
            out.append(re.escape(escaped))
            pos += 1
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out))  # like Go, `.` stops at newlines


def trim_prefix(pattern: str, value: str, *, greedy: bool) -> str:
    match = to_regex(pattern, greedy=greedy, anchored=True).match(value)
    return value[match.end():] if match else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern keeping each `\\x` escape pair in order."""
    tokens = []
    pos = 0
    while pos < len(pattern):
        if pattern[pos] == "\\" and pos + 1 < len(pattern):
            tokens.append(pattern[pos:pos + 2])
            pos += 2
        else:
            tokens.append(pattern[pos])
            pos += 1
    return "".join(reversed(tokens))


def trim_suffix(pattern: str, value: str, *, greedy: bool) -> str:
    # a regex finds the shortest match from the left only: reverse both sides
    return trim_prefix(_reverse_pattern(pattern), value[::-1], greedy=greedy)[::-1]


def replace(pattern: str, replacement: str, value: str, *, every: bool) -> str:
    regex = to_regex(pattern, greedy=True, anchored=False)
    return regex.sub(lambda _m: replacement, value, count=0 if every else 1)
