"""`.dockerignore`: reading the file and matching paths as moby/patternmatcher does.

Rules: `#` comments, blank lines skipped, whitespace trimmed, `!` marks an exception,
each pattern is cleaned (`./a` -> `a`, a leading `/` dropped), `*`/`?`/`[]` stay within
one component, `**` spans any number, and a pattern also matches everything under a
directory it matches. The last matching pattern wins.
"""

from __future__ import annotations

import re
from pathlib import Path

from rootless_build.build.patterns import BadPattern, compile_pattern, go_clean
from rootless_build.record import Record

_BOM = "\ufeff"


def read_patterns(text: str) -> list[str]:
    """The patterns of a .dockerignore file, normalised like Docker's ignorefile.ReadAll."""
    patterns = []
    for number, line in enumerate(text.splitlines()):
        if number == 0:
            line = line.removeprefix(_BOM)
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip()
        if line:
            line = go_clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append(("!" + line) if invert else line)
    return patterns


def find_ignore_file(context: Path, dockerfile: Path | None, chosen: str | None = None) -> Path | None:
    """`--ignorefile` (`chosen`) first, then `<Dockerfile>.dockerignore` beside the Dockerfile,
    then `<context>/.dockerignore`."""
    if chosen is not None:
        return Path(chosen)  # read by the caller: missing or unreadable is its error
    if dockerfile is not None:
        beside = dockerfile.with_name(dockerfile.name + ".dockerignore")
        if beside.is_file():
            return beside
    default = context / ".dockerignore"
    return default if default.is_file() else None


class _Pattern(Record, frozen=True):
    text: str
    regex: re.Pattern[str]
    exclusion: bool

    def matches_self_or_parent(self, path: str) -> bool:
        if self.regex.match(path):
            return True
        parts = path.split("/")
        return any(self.regex.match("/".join(parts[:i])) for i in range(1, len(parts)))


class IgnoreMatcher:
    def __init__(self, patterns: list[str]):
        self.patterns: list[_Pattern] = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            exclusion = text.startswith("!")
            if exclusion:
                text = text[1:]
                if not text:
                    raise BadPattern('illegal exclusion pattern: "!"')
            text = go_clean(text)
            self.patterns.append(_Pattern(text, compile_pattern(text), exclusion))
        self.has_exceptions = any(p.exclusion for p in self.patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def excluded(self, path: str) -> bool:
        """True when the relative path (or a directory above it) is ignored."""
        if path.startswith(("./", "/")) or "//" in path or "/./" in path or "/.." in path or path == ".":
            path = go_clean(path).lstrip("/") or "."
        if path == ".":
            return False  # the context root itself is never ignored
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue  # only a later exception can undo a match, and vice versa
            if pattern.matches_self_or_parent(path):
                matched = not pattern.exclusion
        return matched

    def may_include_below(self, directory: str) -> bool:
        """Whether an exception could re-include something under an ignored directory."""
        prefix = go_clean(directory) + "/"
        for pattern in self.patterns:
            if not pattern.exclusion:
                continue
            literal = re.split(r"[*?\[\\]", pattern.text, maxsplit=1)[0]
            if literal.startswith(prefix) or prefix.startswith(literal) or "**" in pattern.text:
                return True
        return False
