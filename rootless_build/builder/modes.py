"""`--chmod`: an octal mode (`0755`, `644`) or chmod(1)'s symbolic form (`u+x,go=rX`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rootless_build.errors import BuildError

_CLAUSE = re.compile(r"^([ugoa]*)([-+=])([rwxXst]*|[ugo])$")
_WHO = {"u": 0o4700, "g": 0o2070, "o": 0o1007}


@dataclass(frozen=True)
class ModeSpec:
    text: str
    octal: int | None  # set for the octal form

    def apply(self, mode: int, is_dir: bool) -> int:
        if self.octal is not None:
            return self.octal
        for clause in self.text.split(","):
            mode = _apply_clause(clause, mode, is_dir)
        return mode


def parse_chmod(text: str) -> ModeSpec:
    if re.fullmatch(r"[0-7]{1,4}", text):
        return ModeSpec(text, int(text, 8))
    for clause in text.split(","):
        if not clause or not _CLAUSE.match(clause):
            raise BuildError(f"invalid --chmod value {text!r}: use an octal mode (0755) or u+x style")
    return ModeSpec(text, None)


def _apply_clause(clause: str, mode: int, is_dir: bool) -> int:
    who, op, perms = _CLAUSE.match(clause).groups()
    mask = 0
    for w in who or "a":
        mask |= 0o7777 if w == "a" else _WHO[w]
    if who == "" or "a" in who:
        mask = 0o7777
    if perms in ("u", "g", "o"):
        shift = {"u": 6, "g": 3, "o": 0}[perms]
        bits = (mode >> shift) & 0o7
        value = bits << 6 | bits << 3 | bits
    else:
        value = 0
        for p in perms:
            if p == "r":
                value |= 0o444
            elif p == "w":
                value |= 0o222
            elif p == "x" or (p == "X" and (is_dir or mode & 0o111)):
                value |= 0o111
            elif p == "s":
                value |= 0o6000
            elif p == "t":
                value |= 0o1000
    value &= mask
    if op == "+":
        return mode | value
    if op == "-":
        return mode & ~value
    return (mode & ~(mask & 0o777 | (mask & 0o7000))) | value
