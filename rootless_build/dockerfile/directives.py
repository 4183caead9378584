"""Parser directives: `# syntax=`, `# escape=`, `# check=` at the very top of a Dockerfile.

They are read only until the first line that is not one (an instruction, a blank
line, any other comment, an unknown directive); after that they are plain comments.
"""

from __future__ import annotations

import re

KNOWN = frozenset({"syntax", "escape", "check"})
DEFAULT_ESCAPE = "\\"

# Go's \s is [\t\n\f\r ]: no vertical tab, no Unicode spaces.
_DIRECTIVE = re.compile(r"#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z")


class DirectiveError(Exception):
    """A repeated directive or a bad escape character; the caller adds the location."""


class DirectiveReader:
    """Feed it every line (left-trimmed) in order; it stops looking after the first non-directive."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.escape = DEFAULT_ESCAPE
        self.done = False

    def feed(self, line: str) -> None:
        if self.done:
            return
        match = _DIRECTIVE.match(line)
        if not match or match.group(1).lower() not in KNOWN:
            self.done = True
            return
        key, value = match.group(1).lower(), match.group(2)
        if key in self.values:
            raise DirectiveError(f"only one {key} parser directive can be used")
        if key == "escape":
            if value not in ("`", "\\"):
                raise DirectiveError(f"invalid escape token '{value}' does not match ` or \\")
            self.escape = value
        self.values[key] = value
