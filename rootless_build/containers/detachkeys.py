"""docker's --detach-keys: a comma-separated key sequence, e.g. "ctrl-p,ctrl-q" or "ctrl-a,x"."""

from __future__ import annotations

from rootless_build.errors import UsageError

DEFAULT = "ctrl-p,ctrl-q"
_CTRL_SPECIAL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse(text: str) -> bytes:
    """The bytes the sequence types; a one-line error for anything docker refuses."""
    out = bytearray()
    for key in (text or DEFAULT).split(","):
        low = key.lower()
        if len(key) == 1:
            out.append(ord(key))
        elif low.startswith("ctrl-") and len(key) == 6 and ("a" <= low[5] <= "z" or low[5] in _CTRL_SPECIAL):
            out.append(ord(low[5]) - ord("a") + 1 if low[5].isalpha() else _CTRL_SPECIAL[low[5]])
        else:
            raise UsageError(f"Invalid detach keys ({text}) provided")
    return bytes(out)
