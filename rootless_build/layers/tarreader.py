"""The one tar reader: every tar that enters (layers, archives, ADD sources) is read here.

Headers are validated once, where they are parsed, and anything doubtful is a one-line
LayerError naming the offset: a bad checksum, numbers that are neither octal nor valid
base-256, negative or absurd sizes, malformed PAX records, oversized PAX or GNU long-name
payloads (bounded like Go's archive/tar, 1 MiB), NUL bytes in names. Sparse entries (GNU
`S` and the PAX GNU.sparse formats) are refused: docker and BuildKit never write them,
and Python's tarfile trusts their declared real size (a 2 KiB header became a 2 GiB
file). Data is never held in memory: each entry's content is a bounded reader over the
stream, skipped (by seek when the source allows) if the caller does not read it.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO, Protocol, cast

from rootless_build.errors import LayerError
from rootless_build.layers import tarsparse
from rootless_build.layers.fileobj import ByteReader

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

BLOCK = 512
MAX_ENTRY_SIZE = 1 << 40  # 1 TiB: larger than any real file in an image, small enough to refuse nonsense
MAX_META_SIZE = 1 << 20  # PAX records, GNU long names: Go's archive/tar limit
_READ = 1 << 20

REGTYPE, AREGTYPE, CONTTYPE = b"0", b"\0", b"7"
LNKTYPE, SYMTYPE, CHRTYPE, BLKTYPE, DIRTYPE, FIFOTYPE = b"1", b"2", b"3", b"4", b"5", b"6"
_PAX, _SOLARIS_PAX, _GLOBAL, _LONGNAME, _LONGLINK, _SPARSE = b"x", b"X", b"g", b"L", b"K", b"S"
_POSIX_MAGIC = b"ustar\x0000"
_OCTAL = frozenset(b"01234567")
_NUMERIC_PAX = ("size", "uid", "gid")
_HEADER_ONLY = frozenset((LNKTYPE, SYMTYPE, DIRTYPE, CHRTYPE, BLKTYPE, FIFOTYPE))
_MAX_MTIME = (1 << 63) // 10**9  # nanoseconds in an int64, as utimensat takes them (year 2262)
_PAX_MTIME = re.compile(r"-?[0-9]{1,20}(\.[0-9]+)?\Z")


class TarEntry:
    """One entry's metadata, with tarfile.TarInfo's names for what callers use."""

    __slots__ = ("name", "type", "mode", "uid", "gid", "mtime", "size", "linkname",
                 "devmajor", "devminor", "pax_headers", "offset_data", "sparse")

    def __init__(self, name: str, type: bytes, mode: int, uid: int, gid: int, mtime: float,
                 size: int, linkname: str, devmajor: int, devminor: int,
                 pax_headers: dict[str, str], offset_data: int) -> None:
        self.name, self.type, self.mode, self.uid, self.gid = name, type, mode, uid, gid
        self.mtime, self.size, self.linkname = mtime, size, linkname
        self.devmajor, self.devminor = devmajor, devminor
        self.pax_headers = pax_headers  # values decoded as UTF-8 with surrogateescape
        self.offset_data = offset_data  # where the content starts in the uncompressed stream
        # a sparse file: size is the real size, the content holds only these chunks, in order
        self.sparse: tarsparse.SparseMap | None = None

    def isreg(self) -> bool:
        return self.type in (REGTYPE, AREGTYPE, CONTTYPE)

    is_file = property(isreg)

    def isdir(self) -> bool:
        return self.type == DIRTYPE

    def issym(self) -> bool:
        return self.type == SYMTYPE

    def islnk(self) -> bool:
        return self.type == LNKTYPE

    def ischr(self) -> bool:
        return self.type == CHRTYPE

    def isblk(self) -> bool:
        return self.type == BLKTYPE

    def isfifo(self) -> bool:
        return self.type == FIFOTYPE


class EntryContent(io.RawIOBase):
    """An entry's content: reads stop at its end; what the caller leaves is skipped later."""

    def __init__(self, source: _Source | ByteReader, size: int) -> None:
        # (a plain file works too: then its first `size` bytes are the content)
        self._source = source if isinstance(source, _Source) else _Source(source, "file")
        self.remaining = size
        self._pending = b""  # what peek() read ahead

    def readable(self) -> bool:
        return True

    def peek(self, n: int) -> bytes:
        want = min(n, self.remaining) - len(self._pending)
        if want > 0:
            self._pending += self._source.read_exact(want)
        return self._pending[:n]

    def readinto(self, b: WriteableBuffer) -> int:
        view = memoryview(b).cast("B")
        if self._pending:
            n = min(len(view), len(self._pending))
            view[:n] = self._pending[:n]
            self._pending = self._pending[n:]
            self.remaining -= n
            return n
        want = min(len(view), self.remaining)
        if want == 0:
            return 0
        n = self._source.readinto(view[:want])
        self.remaining -= n
        return n

    def read(self, size: int | None = -1) -> bytes:
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        buf = bytearray(size)
        view = memoryview(buf)
        got = 0
        while got < size:
            got += self.readinto(view[got:])
        return bytes(buf)

    def skip(self) -> None:
        self._source.skip(self.remaining - len(self._pending))
        self._pending = b""
        self.remaining = 0


class _Fills(Protocol):
    def readinto(self, view: memoryview, /) -> int: ...


class _Source:
    """The stream with its position; short reads inside an entry are a truncated tar."""

    def __init__(self, f: ByteReader, what: str) -> None:
        self.f: _Fills = cast(_Fills, f) if hasattr(f, "readinto") else _ReadInto(f)
        self.what = what
        self.pos = 0
        self.end: int | None = None  # a regular file's size: seeking past it is a truncation
        # seek over content only in a plain file (a decompressor's seek reads anyway, and its
        # fileno() would give the compressed size)
        self.seekable = isinstance(getattr(f, "raw", f), io.FileIO)
        if self.seekable:
            plain = cast(BinaryIO, f)  # a FileIO, or a buffered reader over one
            self.end = os.fstat(plain.fileno()).st_size - plain.tell()

    def error(self, message: str, at: int | None = None) -> LayerError:
        return LayerError(f"{self.what}: {message} at offset {self.pos if at is None else at}")

    def readinto(self, view: memoryview) -> int:
        n = self.f.readinto(view)
        if not n:
            raise self.error("unexpected end of data")
        self.pos += n
        return n

    def read_exact(self, n: int, eof_ok: bool = False) -> bytes:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            chunk = self.f.readinto(view[got:])
            if not chunk:
                if eof_ok and got == 0:
                    return b""
                raise self.error("unexpected end of data")
            got += chunk
            self.pos += chunk
        return bytes(buf)

    def skip(self, n: int) -> None:
        if n <= 0:
            return
        if self.seekable:
            if self.end is not None and self.pos + n > self.end:
                raise self.error("unexpected end of data")
            cast(BinaryIO, self.f).seek(n, io.SEEK_CUR)  # seekable: a plain file
            self.pos += n
            return
        buf = memoryview(bytearray(min(n, _READ)))
        while n:
            n -= self.readinto(buf[:min(n, len(buf))])


class _ReadInto:
    """readinto() for a file object that only has read()."""

    def __init__(self, f: ByteReader) -> None:
        self.readinto_source = f

    def readinto(self, view: memoryview) -> int:
        data = self.readinto_source.read(len(view))
        view[:len(data)] = data
        return len(data)


def _number(header: bytes, start: int, end: int, field: str, src: _Source, at: int) -> int:
    raw = header[start:end]
    if raw[0] & 0x80:  # GNU base-256: 0x80 positive, 0xff negative (two's complement)
        value = int.from_bytes(raw[1:], "big")
        if raw[0] == 0xff:
            value -= 1 << (8 * (end - start - 1))
        elif raw[0] != 0x80:
            raise src.error(f"invalid base-256 number in the {field} field", at)
        return value
    text = raw.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    if not _OCTAL.issuperset(text):
        raise src.error(f"invalid number {text[:12]!r} in the {field} field", at)
    return int(text, 8)


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax_records(data: bytes, src: _Source, at: int) -> dict[str, str]:
    """`%d %s=%s\\n` records, strictly: the length counts the whole record."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos, pos + 21)
        digits = data[pos:space] if space > pos else b""
        if not digits.isdigit() or not digits.isascii():
            raise src.error("malformed PAX record (no length)", at)
        length = int(digits)
        end = pos + length
        if end > len(data) or length <= len(digits) + 2 or data[end - 1:end] != b"\n":
            raise src.error("malformed PAX record (bad length)", at)
        key, eq, value = data[space + 1:end - 1].partition(b"=")
        if not eq or not key:
            raise src.error("malformed PAX record (no key)", at)
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos = end
    return records


def _check_pax(pax: dict[str, str], src: _Source, at: int) -> None:
    tarsparse.pax_version(pax, lambda m: src.error(m, at))  # refuses 0.0 and unknown formats
    for key in _NUMERIC_PAX:
        value = pax.get(key)
        if value is not None and not (value.isascii() and value.isdigit() and len(value) <= 20):
            raise src.error(f"invalid PAX {key} {value[:20]!r}", at)
    if "mtime" in pax and not _PAX_MTIME.match(pax["mtime"]):
        raise src.error(f"invalid PAX mtime {pax['mtime'][:20]!r}", at)
    for key in ("path", "linkpath"):
        if "\0" in pax.get(key, ""):
            raise src.error(f"NUL byte in PAX {key}", at)


def _meta_payload(src: _Source, size: int, kind: str, at: int) -> bytes:
    if size > MAX_META_SIZE:
        raise src.error(f"{kind} of {size} bytes (more than {MAX_META_SIZE})", at)
    data = src.read_exact(size)
    src.skip(-size % BLOCK)
    return data


def read_entries(f: ByteReader, what: str) -> Iterator[tuple[TarEntry, EntryContent]]:
    """(entry, its content) in archive order, from an uncompressed tar stream.

    Read (or leave) each content before asking for the next entry; it is skipped then.
    The archive ends at a zero block or at the end of the stream between entries.
    """
    src = _Source(f, what)
    pax: dict[str, str] = {}
    long_name = long_link = None
    meta = 0  # bytes of extended headers read for the coming entry: bounded, whatever their number
    while True:
        at = src.pos
        header = src.read_exact(BLOCK, eof_ok=True)
        if not header or header == bytes(BLOCK):
            if pax or long_name is not None or long_link is not None:
                raise src.error("the tar ends after an extended header", at)
            return
        _check_sum(header, src, at)
        kind = header[156:157]
        size = _number(header, 124, 136, "size", src, at)
        if kind in (_PAX, _SOLARIS_PAX, _GLOBAL, _LONGNAME, _LONGLINK):
            if size < 0:
                raise src.error("negative size", at)
            meta += size
            if meta > MAX_META_SIZE:
                raise src.error(f"extended headers of more than {MAX_META_SIZE} bytes for one entry", at)
        if kind in (_PAX, _SOLARIS_PAX, _GLOBAL):
            records = _pax_records(_meta_payload(src, size, "PAX header", at), src, at)
            if kind != _GLOBAL:  # a global header changes nothing layers use
                _check_pax(records, src, at)
                pax.update(records)
            continue
        if kind in (_LONGNAME, _LONGLINK):
            value = _meta_payload(src, size, "GNU long name", at).split(b"\0", 1)[0]
            if kind == _LONGNAME:
                long_name = value.decode("utf-8", "surrogateescape")
            else:
                long_link = value.decode("utf-8", "surrogateescape")
            continue
        if "size" in pax:
            size = int(pax["size"])
        if not 0 <= size <= MAX_ENTRY_SIZE:
            raise src.error(f"entry size {size} out of range", at)
        entry = _entry(header, kind, pax, long_name, long_link, src, at)
        if entry.type in _HEADER_ONLY:
            size = 0  # links, directories, devices have no content, whatever `size` says (as Go, tarfile)
        entry.size = size
        pax, long_name, long_link, meta = {}, None, None, 0
        content = EntryContent(src, size)
        if kind == _SPARSE or any(key.startswith("GNU.sparse.") for key in entry.pax_headers):
            _sparse(entry, header, content, src, at)
        yield entry, content
        content.skip()
        src.skip(-size % BLOCK)


def _sparse(entry: TarEntry, header: bytes, content: EntryContent, src: _Source, at: int) -> None:
    """Read the entry's sparse map (PAX 1.0: from its content) and check it."""
    def fail(message: str) -> LayerError:
        return src.error(f"{message} in entry {entry.name!r}", at)

    def number(field: bytes, name: str) -> int:
        return _number(field, 0, len(field), name, src, at)

    pax = entry.pax_headers
    if entry.type == _SPARSE:
        chunks, real = tarsparse.gnu_header_map(header, lambda: src.read_exact(BLOCK), number, fail)
        entry.offset_data = src.pos  # after the extension blocks, which `size` does not count
    else:
        version = tarsparse.pax_version(pax, fail)
        if version is None:
            return
        entry.name = pax.get("GNU.sparse.name", entry.name)
        if version == "0.1":
            chunks, real = tarsparse.pax_map(pax, fail)
        else:
            real = tarsparse.pax_real_size(pax, fail)
            chunks, used = tarsparse.data_map(content.read, fail)
            entry.offset_data += used
    entry.type = REGTYPE
    entry.sparse = tarsparse.checked(chunks, real, content.remaining, fail)
    entry.size = real


def is_header(block: bytes) -> bool:
    """Whether a block is a tar header (its checksum holds): how a tar is recognised."""
    if len(block) < BLOCK or block[:BLOCK] == bytes(BLOCK):
        return False
    try:
        _check_sum(block[:BLOCK], _Source(io.BytesIO(), ""), 0)
    except LayerError:
        return False
    return True


def _check_sum(header: bytes, src: _Source, at: int) -> None:
    try:
        stored = _number(header, 148, 156, "checksum", src, at)
    except LayerError:
        stored = -1
    unsigned = sum(header) - sum(header[148:156]) + 256
    if stored == unsigned:
        return
    # some old writers summed signed chars
    if stored != unsigned - 256 * sum(1 for b in header if b > 127):
        raise src.error("bad tar header checksum" if at else "not a tar archive", at)


def _entry(header: bytes, kind: bytes, pax: dict[str, str], long_name: str | None,
           long_link: str | None, src: _Source, at: int) -> TarEntry:
    name = _text(header[0:100])
    if header[257:265] == _POSIX_MAGIC and header[345]:
        name = _text(header[345:500]) + "/" + name
    name = pax.get("path", long_name if long_name is not None else name)
    if kind == AREGTYPE and name.endswith("/"):
        kind = DIRTYPE  # old V7 tars mark directories by the trailing slash only
    if kind == DIRTYPE:
        name = name.rstrip("/")  # as tarfile: "dir/" and "dir" are the same entry
    linkname = pax.get("linkpath", long_link if long_link is not None else _text(header[157:257]))
    mode = _number(header, 100, 108, "mode", src, at)
    uid = int(pax["uid"]) if "uid" in pax else _number(header, 108, 116, "uid", src, at)
    gid = int(pax["gid"]) if "gid" in pax else _number(header, 116, 124, "gid", src, at)
    if mode < 0 or uid < 0 or gid < 0 or uid >= 1 << 32 or gid >= 1 << 32:
        raise src.error(f"mode, uid or gid out of range in entry {name!r}", at)
    mtime: float = float(pax["mtime"]) if "mtime" in pax else _number(header, 136, 148, "mtime", src, at)
    if not -_MAX_MTIME <= mtime <= _MAX_MTIME:
        raise src.error(f"mtime {mtime} out of range in entry {name!r}", at)
    devmajor = devminor = 0
    if kind in (CHRTYPE, BLKTYPE):
        devmajor = _number(header, 329, 337, "devmajor", src, at)
        devminor = _number(header, 337, 345, "devminor", src, at)
        if not (0 <= devmajor < 1 << 32 and 0 <= devminor < 1 << 32):
            raise src.error(f"device number out of range in entry {name!r}", at)
    return TarEntry(name, kind, mode & 0o7777, uid, gid, mtime, 0, linkname, devmajor, devminor,
                    pax, src.pos)




def scan_file(path: str | os.PathLike[str], what: str) -> int:
    """Validate every header of an uncompressed tar file (content skipped by seeks), as
    load and import do before a layer is stored; the number of entries."""
    with open(path, "rb") as f:
        return sum(1 for _ in read_entries(f, what))
