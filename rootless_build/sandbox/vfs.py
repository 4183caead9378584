"""The copy fallback: the step runs in a full copy of its lower layers.

The "upper" dir is that full copy; after the step, `layers.diff.write_diff(lower, upper_full,
out)` compares it with the flattened lower to make the layer. `flatten_into` makes such a
flattened tree from overlay-style lower dirs (whiteouts and opaque dirs applied), with
`cp -a --reflink=auto` so ids, modes, xattrs, hard links and times are kept, and shared
extents used where the filesystem has them.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rootless_build.errors import LayerError, SandboxError
from rootless_build.layers.fsops import copy_tree
from rootless_build.sandbox import libc
from rootless_build.sandbox.lowerview import OPAQUE_MARKER, OPAQUE_XATTRS, WHITEOUT_PREFIX, is_opaque, is_whiteout

NAME = "vfs"


@dataclass
class BindMount:
    target: Path
    pid: int | None = None

    def release(self) -> None:
        libc.umount2(self.target, libc.MNT_DETACH)

    def stop(self) -> None:
        """Nothing serves a bind mount: it goes with its mount namespace."""


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _clear_dir(path: str) -> None:
    with os.scandir(path) as entries:
        for entry in entries:
            _remove(entry.path)


def _markers(layer: str, dest: str) -> tuple[list[str], list[str]]:
    """Apply the layer's deletions to dest before copying; return the marker paths and the
    opaque dirs (relative) that the copy will bring along and that must be cleaned after."""
    markers, opaque = [], []
    for root, dirs, files in os.walk(layer):
        rel = os.path.relpath(root, layer)
        target_dir = os.path.normpath(os.path.join(dest, rel))
        if rel != "." and is_opaque(root):
            opaque.append(rel)
            if os.path.isdir(target_dir) and not os.path.islink(target_dir):
                _clear_dir(target_dir)
        for name in dirs + files:
            src = os.path.join(root, name)
            st = os.lstat(src)
            target = os.path.join(target_dir, name)
            if name == OPAQUE_MARKER:
                markers.append(os.path.join(rel, name))
            elif name.startswith(WHITEOUT_PREFIX):
                _remove(os.path.join(target_dir, name[len(WHITEOUT_PREFIX):]))
                markers.append(os.path.join(rel, name))
            elif is_whiteout(st):
                _remove(target)
                markers.append(os.path.join(rel, name))
            elif os.path.lexists(target):
                # cp cannot put a directory over a file or the other way round.
                tst = os.lstat(target)
                if stat.S_ISDIR(st.st_mode) != stat.S_ISDIR(tst.st_mode) or stat.S_ISLNK(tst.st_mode):
                    _remove(target)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
    return markers, opaque


def _strip_opaque_xattrs(path: str) -> None:
    for name in OPAQUE_XATTRS:
        try:
            os.removexattr(path, name, follow_symlinks=False)
        except OSError:
            pass


def flatten_into(lowerdirs: Sequence[Path], dest: Path) -> None:
    """Copy lowerdirs (top-most first) into dest as one plain tree, as overlay would show it."""
    dest.mkdir(parents=True, exist_ok=True)
    for layer in reversed([os.fspath(p) for p in lowerdirs]):
        markers, opaque = _markers(layer, os.fspath(dest))
        try:
            copy_tree(layer, dest)
        except LayerError as e:
            raise SandboxError(f"{e} for the vfs driver") from None
        for rel in markers:
            _remove(os.path.join(dest, rel))
            # The removal changed the directory's mtime: give it back the layer's, or every
            # copy of these lowers would differ from the next one there.
            st = os.lstat(os.path.join(layer, os.path.dirname(rel)))
            os.utime(os.path.join(dest, os.path.dirname(rel)), ns=(st.st_atime_ns, st.st_mtime_ns),
                     follow_symlinks=False)
        for rel in opaque:
            _strip_opaque_xattrs(os.path.join(dest, rel))


def populate(lowerdirs: Sequence[Path], full_dir: Path) -> None:
    """Fill an empty vfs 'upper' dir with the lowers; a used one (a container's) is kept."""
    if full_dir.exists() and any(full_dir.iterdir()):
        return
    flatten_into(lowerdirs, full_dir)


def mount_vfs(lowerdirs: Sequence[Path], full_dir: Path, target: Path) -> BindMount:
    populate(lowerdirs, full_dir)
    try:
        libc.mount(os.fspath(full_dir), target, None, libc.MS_BIND | libc.MS_REC)
    except OSError as e:
        raise SandboxError(f"bind mount of {full_dir} on {target}: {e.strerror}") from None
    return BindMount(target)
