"""Write errors of the store's files as one-line StoreErrors. A full disk (or quota) names
the filesystem and where it is mounted, since that is what the user must free or grow."""

from __future__ import annotations

import errno
import os

from rootless_build.errors import StoreError

_FULL = (errno.ENOSPC, errno.EDQUOT)


class StoreFull(StoreError):
    """No space (or quota) left where the store writes."""


def write_error(e: OSError, path: str | os.PathLike[str], what: str = "writing to the store") -> StoreError:
    """The error to raise for an OSError met while writing `path`."""
    if e.errno in _FULL:
        reason = "disk quota exceeded" if e.errno == errno.EDQUOT else "no space left on device"
        return StoreFull(f"{what}: {reason} on {describe_mount(path)}; nothing was kept")
    return StoreError(f"{what}: {e.strerror or e}: {path}")


def describe_mount(path: str | os.PathLike[str]) -> str:
    """'the tmpfs filesystem mounted on /x (none)' for the mount holding `path`."""
    path = os.path.realpath(path)
    best: tuple[str, str, str] | None = None
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split()
                if " - " not in line or len(fields) < 5:
                    continue
                point = _unescape(fields[4])
                tail = line.split(" - ", 1)[1].split()
                inside = path == point or path.startswith(point.rstrip("/") + "/")
                if inside and (best is None or len(point) >= len(best[0])):
                    best = (point, tail[0] if tail else "?", _unescape(tail[1]) if len(tail) > 1 else "?")
    except OSError:
        pass
    if best is None:
        return f"the filesystem holding {path}"
    point, fstype, source = best
    return f"the {fstype} filesystem mounted on {point} (from {source})"


def _unescape(text: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        text = text.replace(code, char)
    return text
