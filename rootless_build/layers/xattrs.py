"""Which extended attributes travel in layers, and how they are read and written."""

from __future__ import annotations

import errno
import os
import struct

PAX_XATTR_PREFIX = "SCHILY.xattr."
CAPABILITY = "security.capability"

# Markers of overlay implementations: never stored in a layer, never applied from one
# (a layer setting user.overlay.redirect could make the overlay look elsewhere).
_MARKER_PREFIXES = ("trusted.overlay.", "user.overlay.", "user.fuseoverlayfs.",
                    "security.fuseoverlayfs.", "user.containers.")

_VFS_CAP_REVISION_MASK = 0xFF000000
_VFS_CAP_REVISION_2 = 0x02000000
_VFS_CAP_REVISION_3 = 0x03000000


def is_marker(name: str) -> bool:
    return name.startswith(_MARKER_PREFIXES)


def is_stored(name: str) -> bool:
    """Kept in layers we write: file capabilities and user attributes (not markers)."""
    if name == CAPABILITY:
        return True
    return name.startswith("user.") and not is_marker(name)


def list_all(path: str) -> dict[str, bytes]:
    """Every attribute of `path` (not following a final symlink), markers included."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.ENOENT, errno.EPERM):
            return {}
        raise
    values: dict[str, bytes] = {}
    for name in names:
        try:
            values[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError as e:
            if e.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EPERM):
                raise
    return values


def stored(values: dict[str, bytes]) -> dict[str, bytes]:
    """The subset we write into a layer, sorted by name, capabilities made portable."""
    out: dict[str, bytes] = {}
    for name in sorted(values):
        if is_stored(name):
            value = values[name]
            out[name] = portable_capability(value) if name == CAPABILITY else value
    return out


def portable_capability(value: bytes) -> bytes:
    """Turn a v3 capability (which names a host root uid) into the namespace-free v2 form.

    Read from outside a user namespace, file capabilities carry the host uid of the
    namespace's root; inside an image they must not.
    """
    if len(value) == 24:
        (magic,) = struct.unpack_from("<I", value)
        if magic & _VFS_CAP_REVISION_MASK == _VFS_CAP_REVISION_3:
            flags = magic & ~_VFS_CAP_REVISION_MASK
            return struct.pack("<I", _VFS_CAP_REVISION_2 | flags) + value[4:20]
    return value


def pax_records(values: dict[str, bytes]) -> list[tuple[bytes, bytes]]:
    return [((PAX_XATTR_PREFIX + name).encode("utf-8", "surrogateescape"), value)
            for name, value in values.items()]


def from_pax(pax_headers: dict[str, str]) -> dict[str, bytes]:
    """Attributes carried by a tarfile member (values were decoded with surrogateescape)."""
    out: dict[str, bytes] = {}
    for key, value in pax_headers.items():
        if key.startswith(PAX_XATTR_PREFIX):
            out[key[len(PAX_XATTR_PREFIX):]] = value.encode("utf-8", "surrogateescape")
    return out


def may_be_lost(name: str) -> bool:
    """Attributes whose failure to apply is a warning, not an error (they need privileges
    a rootless extraction does not have, and images rarely depend on them)."""
    if name == CAPABILITY:
        return False
    return name.startswith(("trusted.", "security.", "system."))
