"""`.dockerignore`: reading the file and matching paths as moby/patternmatcher does.

Rules: `#` comments, blank lines skipped, whitespace trimmed, `!` marks an exception,
each pattern is cleaned (`./a` -> `a`, a leading `/` dropped), `*`/`?`/`[]` stay within
one component, `**` spans any number. The last matching pattern wins. As Docker's
context walk (moby fileutils, fsutil) decides:

- a pattern of N components also matches a path whose first N components it matches
  (`d` matches `d/x/y`; `**/x` does not match `a/b/x/y` that way);
- an excluded directory is not entered at all unless an exception's text starts with
  the directory's path (`!d/keep` opens `d`; `!**/keep` and `!*/keep` open nothing), so
  nothing beneath a skipped directory is ever re-included.
"""

from __future__ import annotations

import re
from pathlib import Path

from rootless_build.builder.patterns import BadPattern, compile_pattern, go_clean
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
    components: int

    def matches(self, path: str) -> bool:
        """The path itself, or its parent cut to this pattern's number of components."""
        if self.regex.match(path):
            return True
        parents = path.split("/")[:-1]
        return bool(parents) and self.components <= len(parents) and bool(
            self.regex.match("/".join(parents[: self.components])))


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
            self.patterns.append(_Pattern(text, compile_pattern(text), exclusion, text.count("/") + 1))
        self.has_exceptions = any(p.exclusion for p in self.patterns)
        self._skipped_dirs: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def excluded(self, path: str) -> bool:
        """True when the relative path is ignored, or lies in a directory the walk skips."""
        if path.startswith(("./", "/")) or "//" in path or "/./" in path or "/.." in path or path == ".":
            path = go_clean(path).lstrip("/") or "."
        if path == ".":
            return False  # the context root itself is never ignored
        parts = path.split("/")
        if any(self._skipped("/".join(parts[:depth])) for depth in range(1, len(parts))):
            return True
        return self._matches(path)

    def _matches(self, path: str) -> bool:
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue  # only a later exception can undo a match, and vice versa
            if pattern.matches(path):
                matched = not pattern.exclusion
        return matched

    def _skipped(self, directory: str) -> bool:
        """Whether the walk skips this directory and everything beneath it."""
        known = self._skipped_dirs.get(directory)
        if known is None:
            known = self._skipped_dirs[directory] = self._matches(directory) and not self.may_include_below(directory)
        return known

    def walks_into(self, directory: str) -> bool:
        """Whether Docker's walk enters this ignored directory (it then is in the context,
        as a directory, whatever the exceptions find inside)."""
        parts = directory.split("/")
        if any(self._skipped("/".join(parts[:depth])) for depth in range(1, len(parts))):
            return False
        return self.may_include_below(directory)

    def may_include_below(self, directory: str) -> bool:
        """Whether Docker's walk enters an ignored directory: an exception's text starts
        with the directory's path (a plain prefix test, wildcards and all)."""
        prefix = go_clean(directory) + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)
