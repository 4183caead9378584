"""Path patterns as Docker matches them: Go's filepath.Match plus `**` (any directories).

One compiler serves `.dockerignore` (moby/patternmatcher's rules), COPY source globs and
`COPY --exclude`. Paths are slash-separated and relative, with no leading `./`.
"""

from __future__ import annotations

import re

from rootless_build.errors import UsageError
from rootless_build.oci.config import clean_path as go_clean  # noqa: F401 (used by the build)

_ESCAPE = set(".+()|{}$^")


class BadPattern(UsageError):
    pass


def has_wildcards(text: str) -> bool:
    """True when a path holds `*`, `?` or `[` that is not escaped with a backslash."""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "*?[":
            return True
        i += 1
    return False


def compile_pattern(pattern: str, *, doublestar: bool = True) -> re.Pattern[str]:
    """A regex for one pattern: `*` and `?` stay inside one path component, `**` spans any
    (or, with doublestar=False, is two `*` as Go's filepath.Match reads it)."""
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if doublestar and i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                out.append(".*" if i >= n else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            i = _char_class(pattern, i, out)
        elif ch == "\\":
            if i < n:
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append(re.escape("\\"))
        else:
            out.append(re.escape(ch) if ch in _ESCAPE or not ch.isalnum() else ch)
    out.append("$")
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error as e:
        raise BadPattern(f"syntax error in pattern {pattern!r}: {e}") from None


def _char_class(pattern: str, i: int, out: list[str]) -> int:
    """Go's `[...]`: `^` negates, ranges, `\\` escapes; never matches '/'."""
    n = len(pattern)
    parts = ["["]
    if i < n and pattern[i] == "^":
        parts.append("^/")
        i += 1
    first = True
    while True:
        if i >= n:
            raise BadPattern(f"syntax error in pattern {pattern!r}: unterminated [")
        ch = pattern[i]
        if ch == "]" and not first:
            i += 1
            break
        first = False
        if ch == "\\":
            i += 1
            if i >= n:
                raise BadPattern(f"syntax error in pattern {pattern!r}: trailing backslash")
            ch = pattern[i]
        parts.append(re.escape(ch) if ch in "\\]^[-" else ch)
        i += 1
        if i + 1 < n and pattern[i] == "-" and pattern[i + 1] != "]":
            hi = pattern[i + 1]
            i += 2
            if hi == "\\":
                if i >= n:
                    raise BadPattern(f"syntax error in pattern {pattern!r}: trailing backslash")
                hi = pattern[i]
                i += 1
            if hi < ch:
                raise BadPattern(f"syntax error in pattern {pattern!r}: bad range {ch}-{hi}")
            parts.append("-" + (re.escape(hi) if hi in "\\]^[-" else hi))
    parts.append("]")
    out.append("".join(parts))
    return i


class Glob:
    """A COPY source pattern, matched against a whole relative path as BuildKit resolves
    source wildcards (Go's filepath.Match): every `*` stays in one component, `**` too."""

    def __init__(self, pattern: str):
        self.pattern = pattern
        self.regex = compile_pattern(pattern, doublestar=False)
        self.depth = pattern.count("/") + 1

    def match(self, path: str) -> bool:
        return self.regex.match(path) is not None


def split_wildcards(path: str) -> tuple[str, str]:
    """'a/b/*.go/c' -> ('a/b', '*.go/c'): the literal directory to walk and the pattern."""
    parts = path.split("/")
    for index, part in enumerate(parts):
        if has_wildcards(part):
            return "/".join(parts[:index]), "/".join(parts[index:])
    return path, ""


def unescape(path: str) -> str:
    """A literal path written with backslash escapes (`a\\*b` names the file `a*b`)."""
    return re.sub(r"\\(.)", r"\1", path)
