"""A deterministic, streaming tar writer for layers (ustar + PAX).

Numeric ids, empty uname/gname by default, whole-second mtimes (clamped to
SOURCE_DATE_EPOCH when given), no atime/ctime, xattrs as SCHILY.xattr.* records: the same
inputs always give the same bytes. File content is copied with 1 MiB reads; when `out`
is a LayerSink, straight into its hashing/compression blocks.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import BinaryIO, cast

from rootless_build.errors import LayerError
from rootless_build.layers import tarheader as th
from rootless_build.layers.fileobj import ByteWriter, ChunkReader
from rootless_build.layers.paths import clean_arcname, encode_name
from rootless_build.layers.sink import write_fully
from rootless_build.layers.whiteouts import WH_OPAQUE, WH_PREFIX, is_reserved_name
from rootless_build.layers.xattrs import pax_records

_COPY_SIZE = 1 << 20
_ZEROS = bytes(th.BLOCK * 2)
# Files up to this size go out as one write of header + content + padding: most files of a
# layer are small, and the per-call costs of the general path add up over 20,000 of them.
SMALL_FILE = 256 << 10
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


def _basename(arcname: str) -> str:
    return arcname.rsplit("/", 1)[-1]


class LayerTarWriter:
    """Write layer entries to `out` (any binary file object; a LayerSink is fastest)."""

    def __init__(self, out: ByteWriter, *, source_date_epoch: int | None = None) -> None:
        self._out = out
        self._sde = source_date_epoch
        self._write_from = getattr(out, "write_from", None)
        self._buffer: bytearray | None = None
        self._closed = False
        self.entries = 0

    # -- helpers -------------------------------------------------------------------

    def _mtime(self, mtime: float | int) -> int:
        seconds = int(mtime)
        if seconds < 0:
            seconds = 0
        if self._sde is not None and seconds > self._sde:
            seconds = self._sde
        return seconds

    def _name(self, arcname: str, *, allow_reserved: bool = False) -> str:
        name = clean_arcname(arcname)
        if not name:
            raise LayerError(f"empty archive name {arcname!r}")
        if not allow_reserved and is_reserved_name(_basename(name)):
            raise LayerError(f"cannot store {arcname!r} in a layer: names starting with "
                             f"{WH_PREFIX!r} are whiteouts")
        return name

    def _header(self, name: str, typeflag: bytes, *, mode: int, uid: int, gid: int, mtime: float | int,
                size: int = 0, linkname: str = "", xattrs: dict[str, bytes] | None = None,
                uname: str = "", gname: str = "", devmajor: int = 0, devminor: int = 0) -> None:
        if self._closed:
            raise LayerError("layer tar already closed")
        extra = pax_records(dict(sorted(xattrs.items()))) if xattrs else None
        write_fully(self._out, th.encode_header(
            encode_name(name), typeflag, mode=mode, uid=uid, gid=gid, mtime=self._mtime(mtime),
            size=size, linkname=encode_name(linkname), uname=encode_name(uname), gname=encode_name(gname),
            devmajor=devmajor, devminor=devminor, extra=extra))
        self.entries += 1

    def _copy(self, src: ChunkReader | BinaryIO, size: int, what: str) -> None:
        # (typeshed's BinaryIO lacks readinto; every real binary file object has it)
        reader = cast(ChunkReader, src)
        if self._write_from is not None:
            try:
                self._write_from(reader, size)
            except LayerError as e:
                raise LayerError(f"{what}: {e}") from None
        else:
            if self._buffer is None:
                self._buffer = bytearray(_COPY_SIZE)
            view = memoryview(self._buffer)
            remaining = size
            while remaining:
                got = reader.readinto(view[:min(remaining, _COPY_SIZE)])
                if not got:
                    raise LayerError(f"{what}: ended {remaining} bytes early (did it change while being read?)")
                write_fully(self._out, view[:got])
                remaining -= got
        pad = th.padding(size)
        if pad:
            write_fully(self._out, _ZEROS[:pad])

    # -- entries -------------------------------------------------------------------

    def add_file(self, arcname: str, src: str | os.PathLike[str] | ChunkReader | BinaryIO, *, size: int,
                 mode: int = 0o644, uid: int = 0, gid: int = 0, mtime: float | int = 0,
                 xattrs: dict[str, bytes] | None = None, uname: str = "", gname: str = "") -> None:
        """A regular file; `src` is a path or a binary file object positioned at the content."""
        name = self._name(arcname)
        self._header(name, th.REGTYPE, mode=mode, uid=uid, gid=gid, mtime=mtime, size=size,
                     xattrs=xattrs, uname=uname, gname=gname)
        if isinstance(src, (str, os.PathLike)):
            try:
                fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError as e:
                raise LayerError(f"cannot read {src}: {e.strerror}") from e
            with open(fd, "rb", buffering=0) as f:
                self._copy(f, size, os.fspath(src))
        else:
            self._copy(src, size, name)

    def add_small_file(self, name: str, path: str, *, size: int, mode: int, uid: int, gid: int,
                       mtime: float | int) -> None:
        """add_file for a walked tree's plain file (size <= SMALL_FILE, no xattrs): `name` is
        already clean (a walk builds it from directory entries)."""
        if self._closed:
            raise LayerError("layer tar already closed")
        if is_reserved_name(_basename(name)):
            self._name(name)    # raises the usual error
        try:
            fd = os.open(path, _READ_FLAGS)
        except OSError as e:
            raise LayerError(f"cannot read {path}: {e.strerror}") from e
        try:
            data = os.read(fd, size)
            while len(data) < size:
                more = os.read(fd, size - len(data))
                if not more:
                    raise LayerError(f"{path}: ended {size - len(data)} bytes early "
                                     "(did it change while being read?)")
                data += more
        finally:
            os.close(fd)
        header = th.encode_header(encode_name(name), th.REGTYPE, mode=mode, uid=uid, gid=gid,
                                  mtime=self._mtime(mtime), size=size)
        write_fully(self._out, b"%s%s%s" % (header, data, _ZEROS[:th.padding(size)]))
        self.entries += 1

    def add_dir(self, arcname: str, *, mode: int = 0o755, uid: int = 0, gid: int = 0, mtime: float | int = 0,
                xattrs: dict[str, bytes] | None = None, uname: str = "", gname: str = "") -> None:
        self._header(self._name(arcname) + "/", th.DIRTYPE, mode=mode, uid=uid, gid=gid, mtime=mtime,
                     xattrs=xattrs, uname=uname, gname=gname)

    def add_symlink(self, arcname: str, target: str, *, mode: int = 0o777, uid: int = 0, gid: int = 0,
                    mtime: float | int = 0, xattrs: dict[str, bytes] | None = None, uname: str = "",
                    gname: str = "") -> None:
        """Symlink targets are stored as given (absolute targets are normal)."""
        self._header(self._name(arcname), th.SYMTYPE, mode=mode, uid=uid, gid=gid, mtime=mtime,
                     linkname=target, xattrs=xattrs, uname=uname, gname=gname)

    def add_hardlink(self, arcname: str, target_arcname: str, *, mode: int = 0o644, uid: int = 0, gid: int = 0,
                     mtime: float | int = 0, xattrs: dict[str, bytes] | None = None, uname: str = "",
                     gname: str = "") -> None:
        """A hard link to an entry written earlier in this layer (or present below it)."""
        self._header(self._name(arcname), th.LNKTYPE, mode=mode, uid=uid, gid=gid, mtime=mtime,
                     linkname=self._name(target_arcname), xattrs=xattrs, uname=uname, gname=gname)

    def add_device(self, arcname: str, *, kind: str, major: int, minor: int, mode: int = 0o600, uid: int = 0,
                   gid: int = 0, mtime: float | int = 0, uname: str = "", gname: str = "") -> None:
        """A character ("char") or block ("block") device node."""
        typeflag = {"char": th.CHRTYPE, "block": th.BLKTYPE}.get(kind)
        if typeflag is None:
            raise LayerError(f"unknown device kind {kind!r}")
        self._header(self._name(arcname), typeflag, mode=mode, uid=uid, gid=gid, mtime=mtime,
                     devmajor=major, devminor=minor, uname=uname, gname=gname)

    def add_fifo(self, arcname: str, *, mode: int = 0o644, uid: int = 0, gid: int = 0, mtime: float | int = 0,
                 uname: str = "", gname: str = "") -> None:
        self._header(self._name(arcname), th.FIFOTYPE, mode=mode, uid=uid, gid=gid, mtime=mtime,
                     uname=uname, gname=gname)

    def add_whiteout(self, arcname: str, *, mtime: float | int = 0) -> None:
        """Delete the lower entry `arcname`: writes `dir/.wh.name`."""
        name = self._name(arcname, allow_reserved=True)
        parent, _, base = name.rpartition("/")
        whiteout = f"{parent}/{WH_PREFIX}{base}" if parent else WH_PREFIX + base
        self._header(whiteout, th.REGTYPE, mode=0, uid=0, gid=0, mtime=mtime)

    def add_opaque(self, dir_arcname: str, *, mtime: float | int = 0) -> None:
        """Hide every lower entry of the directory: writes `dir/.wh..wh..opq`."""
        parent = clean_arcname(dir_arcname)
        self._header(f"{parent}/{WH_OPAQUE}" if parent else WH_OPAQUE, th.REGTYPE, mode=0, uid=0, gid=0,
                     mtime=mtime)

    def close(self) -> None:
        """End of archive: two zero blocks. Does not close `out`."""
        if not self._closed:
            write_fully(self._out, _ZEROS)
            self._closed = True

    def __enter__(self) -> LayerTarWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
