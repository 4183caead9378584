"""Encode tar headers (ustar + PAX extended records) byte for byte, fast.

tarfile.TarInfo.tobuf costs ~17 us per entry; this encoder writes the same layout
(ustar magic, PAX `x` records for what does not fit, "././@PaxHeader" like tarfile and
star) in a few microseconds, which matters for layers of tens of thousands of files.
"""

from __future__ import annotations

from rootless_build.errors import LayerError

BLOCK = 512
REGTYPE = b"0"
LNKTYPE = b"1"
SYMTYPE = b"2"
CHRTYPE = b"3"
BLKTYPE = b"4"
DIRTYPE = b"5"
FIFOTYPE = b"6"
PAXTYPE = b"x"

_MAX_ID = 8**7 - 1  # 7 octal digits in an 8-byte field
_MAX_SIZE = 8**11 - 1  # 11 octal digits in a 12-byte field (8 GiB - 1)
_MAGIC = b"ustar\x0000"
_NO_DEVICE = b"\0" * 16
_PAX_NAME = b"././@PaxHeader"


def _ascii_field(value: bytes, width: int) -> bytes:
    """The ustar copy of a field that also went to PAX: ASCII, truncated."""
    if not value.isascii():
        value = bytes(c if c < 128 else 63 for c in value)
    return value[:width]


def _pax_record(key: bytes, value: bytes) -> bytes:
    # "%d %s=%s\n" where the length counts its own digits.
    body = len(key) + len(value) + 3
    length = body + len(str(body))
    if len(str(length)) != len(str(body)):
        length = body + len(str(length))
    return b"%d %s=%s\n" % (length, key, value)


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _ustar(name: bytes, mode: int, uid: int, gid: int, size: int, mtime: int, typeflag: bytes,
           linkname: bytes, uname: bytes, gname: bytes, devices: bytes) -> bytes:
    head = b"%s%07o\0%07o\0%07o\0%011o\0%011o\0" % (
        name.ljust(100, b"\0"), mode & 0o7777, uid, gid, size, mtime)
    tail = b"%s%s%s%s%s%s" % (
        typeflag, linkname.ljust(100, b"\0"), _MAGIC, uname.ljust(32, b"\0"),
        gname.ljust(32, b"\0"), devices)
    # The checksum is computed with its own field as eight spaces.
    checksum = sum(head) + sum(tail) + 256
    return b"%s%06o\0 %s%s" % (head, checksum, tail, b"\0" * 167)


def encode_header(name: bytes, typeflag: bytes, *, mode: int, uid: int, gid: int, mtime: int,
                  size: int = 0, linkname: bytes = b"", uname: bytes = b"", gname: bytes = b"",
                  devmajor: int = 0, devminor: int = 0,
                  extra: list[tuple[bytes, bytes]] | None = None) -> bytes:
    """One entry's header blocks: an optional PAX `x` entry, then the ustar header.

    `name`/`linkname` are raw bytes (UTF-8 normally). `extra` holds additional PAX
    records (e.g. SCHILY.xattr.*) in the order they are to be written.
    """
    records: list[bytes] = []
    binary = False
    if len(name) > 100 or not name.isascii():
        records.append(_pax_record(b"path", name))
        binary = not _is_utf8(name)
        name = _ascii_field(name, 100)
    if len(linkname) > 100 or not linkname.isascii():
        records.append(_pax_record(b"linkpath", linkname))
        binary = binary or not _is_utf8(linkname)
        linkname = _ascii_field(linkname, 100)
    if len(uname) > 32 or not uname.isascii():
        records.append(_pax_record(b"uname", uname))
        uname = _ascii_field(uname, 32)
    if len(gname) > 32 or not gname.isascii():
        records.append(_pax_record(b"gname", gname))
        gname = _ascii_field(gname, 32)
    if not 0 <= uid <= _MAX_ID:
        records.append(_pax_record(b"uid", b"%d" % uid))
        uid = 0
    if not 0 <= gid <= _MAX_ID:
        records.append(_pax_record(b"gid", b"%d" % gid))
        gid = 0
    if size > _MAX_SIZE:
        records.append(_pax_record(b"size", b"%d" % size))
        size = 0
    if not 0 <= mtime <= _MAX_SIZE:
        records.append(_pax_record(b"mtime", b"%d" % mtime))
        mtime = 0
    if extra:
        records.extend(_pax_record(k, v) for k, v in extra)

    if typeflag in (CHRTYPE, BLKTYPE):
        if not (0 <= devmajor <= _MAX_ID and 0 <= devminor <= _MAX_ID):
            raise LayerError(f"device number {devmajor}:{devminor} of {name!r} does not fit in a tar header")
        devices = b"%07o\0%07o\0" % (devmajor, devminor)
    else:
        devices = _NO_DEVICE

    header = _ustar(name, mode, uid, gid, size, mtime, typeflag, linkname, uname, gname, devices)
    if not records:
        return header
    if binary:
        # Names that are not UTF-8 are stored raw; tell readers (GNU tar, Python) so.
        records.insert(0, b"21 hdrcharset=BINARY\n")
    payload = b"".join(records)
    pax = _ustar(_PAX_NAME, 0, 0, 0, len(payload), 0, PAXTYPE, b"", b"", b"", _NO_DEVICE)
    return pax + payload + b"\0" * (-len(payload) % BLOCK) + header


def padding(size: int) -> int:
    """Bytes of zero padding after `size` bytes of content."""
    return -size % BLOCK
