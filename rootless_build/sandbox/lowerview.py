"""Reading a stack of overlay lower directories without mounting them.

Understands every whiteout format a lower dir may hold: kernel overlay's 0/0 character
devices and `*.overlay.opaque` xattrs, fuse-overlayfs's `user.fuseoverlayfs.opaque`, and the
`.wh.` marker files of the OCI format.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTRS = ("user.overlay.opaque", "trusted.overlay.opaque", "user.fuseoverlayfs.opaque")


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str | os.PathLike) -> bool:
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
    return os.path.lexists(os.path.join(path, OPAQUE_MARKER))


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def merged_lookup(lowerdirs: Sequence[Path], relpath: str) -> tuple[str, str | None]:
    """What the merged view of lowerdirs (top-most first) shows at relpath.

    Returns (kind, host path of the top-most entry): kind is "absent", "dir", "file",
    "symlink", "other", or "blocked" when a parent component is not a directory (a symlink
    we must not follow on the host).
    """
    parts = [p for p in relpath.strip("/").split("/") if p and p != "."]
    layers = [os.fspath(d) for d in lowerdirs]
    prefix = ""
    for index, name in enumerate(parts):
        found: tuple[str, os.stat_result] | None = None
        below: list[str] = []
        for layer in layers:
            parent = os.path.join(layer, prefix)
            path = os.path.join(parent, name)
            st = _lstat(path)
            if st is None:
                if os.path.lexists(os.path.join(parent, WHITEOUT_PREFIX + name)):
                    break
                continue
            if is_whiteout(st):
                break
            if found is None:
                found = (path, st)
            if not stat.S_ISDIR(st.st_mode):
                break           # a non-directory hides everything below it
            below.append(layer)
            if is_opaque(path):
                break
        if found is None:
            return "absent", None
        path, st = found
        last = index == len(parts) - 1
        if not last and not stat.S_ISDIR(st.st_mode):
            return "blocked", path
        if last:
            return _kind(st), path
        layers = below
        prefix = os.path.join(prefix, name)
    return "dir", os.fspath(lowerdirs[0]) if lowerdirs else None


def _kind(st: os.stat_result) -> str:
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISLNK(st.st_mode):
        return "symlink"
    return "other"
