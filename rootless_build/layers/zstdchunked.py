"""zstd:chunked: a zstd layer whose file contents are separate frames, with a table of
contents (TOC) that containers/storage reads to fetch only the files it lacks.

Layout (containers/storage pkg/chunked, the CRFS-like format podman 4.x reads):

    [frame: tar headers][frame: content of file 1][frame: padding + headers]...[frame: tail]
    [skippable frame: zstd-compressed TOC JSON]
    [skippable frame, 40 bytes: TOC offset, length, uncompressed length, type 1, b"GnUlInUx"]

Every byte of the original tar is in the zstd frames, in order, and a zstd reader skips
the skippable frames: decompressed, the blob is the stored tar byte for byte (so the
diff_id is unchanged, and a consumer that cannot use the TOC just pulls it whole). The
layer descriptor carries the TOC's digest and position as annotations.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from rootless_build.layers.sink import LayerDigests, write_fully
from rootless_build.layers.tarreader import (
    BLKTYPE,
    CHRTYPE,
    DIRTYPE,
    FIFOTYPE,
    LNKTYPE,
    SYMTYPE,
    TarEntry,
    read_entries,
)

if TYPE_CHECKING:
    import zstandard

SKIPPABLE_MAGIC = b"\x50\x2a\x4d\x18"
FOOTER_MAGIC = b"GnUlInUx"
TOC_TYPE_CRFS = 1
# podman 4.x / skopeo 1.9 (containers/storage <= 1.45) read the first names, later
# releases the second: both are written so either finds the TOC.
ANNOTATION_KEYS = (("io.containers.zstd-chunked.manifest-checksum", "io.containers.zstd-chunked.manifest-position"),
                   ("io.github.containers.zstd-chunked.manifest-checksum",
                    "io.github.containers.zstd-chunked.manifest-position"))
_TYPES = {LNKTYPE: "hardlink", SYMTYPE: "symlink", CHRTYPE: "char", BLKTYPE: "block", DIRTYPE: "dir",
          FIFOTYPE: "fifo"}
_READ = 1 << 20


class _Output:
    """The blob being written: counted and hashed."""

    def __init__(self, dest: Any) -> None:
        self.dest = dest
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        if data:
            write_fully(self.dest, data)
            self.hasher.update(data)
            self.size += len(data)


class _FramedTee:
    """What the tar reader reads, teed into the current zstd frame (and the diff_id hash)."""

    def __init__(self, src: io.BufferedIOBase, out: _Output, level: int) -> None:
        import zstandard

        self._src = src
        self._out = out
        self._cctx = zstandard.ZstdCompressor(level=level, write_checksum=True)
        self._frame: zstandard.ZstdCompressionObj | None = None
        self.diff = hashlib.sha256()
        self.usize = 0
        self.payload: Any = None  # the current file's content hash (a hashlib object)

    def readinto(self, view: memoryview) -> int:
        n: int = self._src.readinto(view)
        if n:
            data = bytes(view[:n])
            self.diff.update(data)
            self.usize += n
            if self.payload is not None:
                self.payload.update(data)
            if self._frame is None:
                self._frame = self._cctx.compressobj()
            self._out.write(self._frame.compress(data))
        return n

    def end_frame(self) -> int:
        """Close the frame being written; the offset where the next one starts."""
        if self._frame is not None:
            self._out.write(self._frame.flush())
            self._frame = None
        return self._out.size

    def drain(self) -> None:
        buf = memoryview(bytearray(_READ))
        while self.readinto(buf):
            pass


def write_chunked(src: Any, dest: Any, level: int = 3) -> tuple[LayerDigests, dict[str, str]]:
    """Compress the uncompressed tar `src` (a buffered reader) into `dest` (write()) as
    zstd:chunked; the digests and the annotations its layer descriptor must carry."""
    out = _Output(dest)
    tee = _FramedTee(src, out, level)
    entries: list[dict[str, Any]] = []
    for entry, content in read_entries(cast(BinaryIO, tee), "layer"):
        item = _toc_entry(entry)
        if entry.isreg() and entry.size:
            item["offset"] = tee.end_frame()
            tee.payload = hashlib.sha256()
            while content.read(_READ):
                pass
            item["digest"] = item["chunkDigest"] = "sha256:" + tee.payload.hexdigest()
            tee.payload = None
            item["endOffset"] = tee.end_frame()
            item["chunkSize"] = entry.size
        entries.append(item)
    tee.drain()  # the end-of-archive blocks and anything after them
    tee.end_frame()
    annotations = _write_toc(out, entries, level)
    diff_id = "sha256:" + tee.diff.hexdigest()
    return LayerDigests("sha256:" + out.hasher.hexdigest(), out.size, diff_id, tee.usize, "zstd"), annotations


def _toc_entry(entry: TarEntry) -> dict[str, Any]:
    item: dict[str, Any] = {"type": _TYPES.get(entry.type, "reg"), "name": entry.name, "mode": entry.mode,
                  "uid": entry.uid, "gid": entry.gid, "modtime": _rfc3339(entry.mtime)}
    if entry.linkname and entry.type in (LNKTYPE, SYMTYPE):
        item["linkName"] = entry.linkname
    if entry.isreg():
        item["size"] = entry.size
    if entry.type in (CHRTYPE, BLKTYPE):
        item["devMajor"], item["devMinor"] = entry.devmajor, entry.devminor
    xattrs = {k.removeprefix("SCHILY.xattr."): base64.b64encode(v.encode("utf-8", "surrogateescape")).decode()
              for k, v in entry.pax_headers.items() if k.startswith("SCHILY.xattr.")}
    if xattrs:
        item["xattrs"] = xattrs
    return {k: v for k, v in item.items() if v not in (0, "")}


def _rfc3339(mtime: float) -> str:
    """Go's time.Time JSON form (RFC 3339, UTC, fraction only when there is one)."""
    stamp = datetime.fromtimestamp(int(mtime // 1), UTC).strftime("%Y-%m-%dT%H:%M:%S")
    nanos = round((mtime % 1) * 1e9)
    return stamp + (f".{nanos:09d}".rstrip("0") if nanos else "") + "Z"


def _write_toc(out: _Output, entries: list[dict[str, Any]], level: int) -> dict[str, str]:
    import zstandard

    toc = json.dumps({"version": 1, "entries": entries}, separators=(",", ":")).encode()
    compressed = zstandard.ZstdCompressor(level=level).compress(toc)
    offset = out.size + 8  # after the skippable frame's magic and length
    out.write(SKIPPABLE_MAGIC + struct.pack("<I", len(compressed)) + compressed)
    footer = struct.pack("<QQQQ", offset, len(compressed), len(toc), TOC_TYPE_CRFS) + FOOTER_MAGIC
    out.write(SKIPPABLE_MAGIC + struct.pack("<I", len(footer)) + footer)
    checksum = "sha256:" + hashlib.sha256(compressed).hexdigest()
    position = f"{offset}:{len(compressed)}:{len(toc)}:{TOC_TYPE_CRFS}"
    return {key: value for keys in ANNOTATION_KEYS for key, value in zip(keys, (checksum, position), strict=True)}


def read_toc(blob: BinaryIO) -> dict[str, Any]:
    """The TOC of a zstd:chunked blob, found through its footer (for tests and fsck)."""
    import zstandard

    from rootless_build.errors import LayerError

    blob.seek(-48, 2)
    tail = blob.read(48)
    if tail[:4] != SKIPPABLE_MAGIC or tail[40:] != FOOTER_MAGIC:
        raise LayerError("not a zstd:chunked layer (no footer)")
    offset, length, ulength, kind = struct.unpack("<QQQQ", tail[8:40])
    blob.seek(offset)
    toc: dict[str, Any] = json.loads(zstandard.ZstdDecompressor().decompress(blob.read(length),
                                                                             max_output_size=ulength))
    return toc
