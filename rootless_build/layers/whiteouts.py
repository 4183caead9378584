"""Whiteouts in each format we meet, one function per format and direction.

OCI (in layer tars): `dir/.wh.name` deletes a lower `name`; `dir/.wh..wh..opq` hides every
lower entry of `dir`.
Kernel overlayfs (upper dirs): a 0/0 character device is a whiteout; a directory with
`trusted.overlay.opaque=y` (or `user.overlay.opaque=y` with the userxattr option) is opaque.
Since 6.7 a regular file with `*.overlay.whiteout` is a whiteout as well.
fuse-overlayfs: 0/0 char devices when it can mknod, else `.wh.name` files; opaque dirs get
`trusted.overlay.opaque`, else `user.fuseoverlayfs.opaque`, plus a `.wh..wh..opq` file; it
honours `user.overlay.opaque` on lower dirs since 1.8.
"""

from __future__ import annotations

import enum
import errno
import os
import stat

from rootless_build.errors import LayerError

WH_PREFIX = ".wh."
WH_OPAQUE = ".wh..wh..opq"
WH_META_PREFIX = ".wh..wh."  # aufs metadata (.wh..wh.plnk ...): never content
FUSE_OPAQUE_DEVICE = ".wh..opq"  # fuse-overlayfs: a 0/0 device of this name in an opaque dir

FORMATS = ("none", "overlay", "fuse-overlayfs")

_OVERLAY_OPAQUE = ("trusted.overlay.opaque", "user.overlay.opaque")
_OVERLAY_WHITEOUT = ("trusted.overlay.whiteout", "user.overlay.whiteout")
_OVERLAY_REDIRECT = ("trusted.overlay.redirect", "user.overlay.redirect")
_FUSE_OPAQUE = _OVERLAY_OPAQUE + ("user.fuseoverlayfs.opaque",)


class Marker(enum.Enum):
    NONE = 0
    WHITEOUT = 1  # this entry stands for a deleted lower entry of the same name
    WHITEOUT_FILE = 2  # `.wh.name`: deletes `name`
    OPAQUE_DIR = 3  # a directory hiding its lower contents
    OPAQUE_FILE = 4  # `.wh..wh..opq`: its directory is opaque


# --- OCI names -------------------------------------------------------------------

def oci_whiteout_name(name: str) -> str:
    return WH_PREFIX + name


def oci_whiteout_target(basename: str) -> str | None:
    """For `.wh.x` the name `x` it deletes; None for anything else (incl. opaque/meta)."""
    if not basename.startswith(WH_PREFIX) or basename.startswith(WH_META_PREFIX):
        return None
    target = basename[len(WH_PREFIX):]
    if target in ("", ".", "..") or "/" in target:
        raise LayerError(f"invalid whiteout entry {basename!r}")
    return target


def is_reserved_name(basename: str) -> bool:
    """A file of this name cannot be stored in a layer: readers take it for a whiteout."""
    return basename.startswith(WH_PREFIX)


# --- reading an upper directory ----------------------------------------------------

def _is_whiteout_device(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def classify_overlay(name: str, st: os.stat_result, xattrs: dict[str, bytes]) -> Marker:
    """Kernel overlayfs upper dir (trusted.* or userxattr)."""
    if _is_whiteout_device(st):
        return Marker.WHITEOUT
    if stat.S_ISDIR(st.st_mode):
        if any(name in xattrs for name in _OVERLAY_REDIRECT):
            raise LayerError(f"directory {name!r} was renamed through an overlay redirect, which a layer "
                             "cannot express: mount the overlay with redirect_dir=off")
        if any(xattrs.get(k, b"")[:1] == b"y" for k in _OVERLAY_OPAQUE):
            return Marker.OPAQUE_DIR
    elif stat.S_ISREG(st.st_mode) and any(k in xattrs for k in _OVERLAY_WHITEOUT):
        return Marker.WHITEOUT
    return Marker.NONE


def classify_fuse_overlayfs(name: str, st: os.stat_result, xattrs: dict[str, bytes]) -> Marker:
    """fuse-overlayfs upper dir: its own markers plus everything the kernel writes."""
    if _is_whiteout_device(st):
        # Beside `.wh..wh..opq` it makes a 0/0 device `.wh..opq` in an opaque dir: a marker,
        # not the whiteout of an entry of that name.
        return Marker.OPAQUE_FILE if name == FUSE_OPAQUE_DEVICE else Marker.WHITEOUT
    if stat.S_ISDIR(st.st_mode):
        if any(xattrs.get(k, b"")[:1] == b"y" for k in _FUSE_OPAQUE):
            return Marker.OPAQUE_DIR
        return Marker.NONE
    if name == WH_OPAQUE:
        return Marker.OPAQUE_FILE
    if name.startswith(WH_META_PREFIX):
        return Marker.NONE
    if name.startswith(WH_PREFIX):
        return Marker.WHITEOUT_FILE
    return Marker.NONE


def classify_none(name: str, st: os.stat_result, xattrs: dict[str, bytes]) -> Marker:
    """A plain tree (build context, copy driver): nothing is a marker."""
    return Marker.NONE


CLASSIFIERS = {
    "none": classify_none,
    "overlay": classify_overlay,
    "fuse-overlayfs": classify_fuse_overlayfs,
}


# --- writing a lower directory for kernel overlayfs / fuse-overlayfs ---------------

def make_overlay_whiteout(path: str) -> None:
    """A 0/0 char device: allowed without CAP_MKNOD since Linux 5.8."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))
    except OSError as e:
        if e.errno in (errno.EPERM, errno.EACCES, errno.ENOTSUP):
            raise LayerError(f"cannot create overlay whiteout {path}: {e.strerror} (0/0 character devices "
                             "need Linux >= 5.8 and a filesystem that allows device nodes)") from e
        raise


def mark_overlay_opaque(path: str) -> None:
    """user.overlay.opaque=y: read by kernel overlay with userxattr and fuse-overlayfs >= 1.8."""
    try:
        os.setxattr(path, "user.overlay.opaque", b"y", follow_symlinks=False)
    except OSError as e:
        raise LayerError(f"cannot mark {path} opaque (user.overlay.opaque): {e.strerror}") from e
