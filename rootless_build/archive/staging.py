"""Stage the files of an archive (or an OCI directory) in the store's tmp dir, hashing and
decompressing as they arrive, so the load can check everything before the store changes.

Each staged file keeps the digest and size of the bytes as they came (what an OCI blob is
named after) and of their uncompressed content (what a config's diff_ids list).
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from rootless_build.archive.tarin import Member, MemberReader, TarFormatError, members
from rootless_build.errors import LayerError, RootlessBuildError
from rootless_build.layers.compression import open_uncompressed, sniff
from rootless_build.layers.fileobj import ByteReader
from rootless_build.layers.sink import LayerSink
from rootless_build.oci import digest as dg
from rootless_build.store.tempblob import TempBlob
from rootless_build.store.writeback import WritebackFile

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_CHUNK = 1 << 20
MAX_DOCUMENT = 16 << 20  # manifests, configs, index.json: read into memory only this small
_BLOB_NAME = re.compile(r"^blobs/(sha256)/([a-f0-9]{64})$")


class ArchiveError(RootlessBuildError):
    """The archive is malformed, truncated or corrupt (nothing was loaded)."""


@dataclass(frozen=True)
class Staged:
    path: Path  # the uncompressed content
    raw_digest: str
    raw_size: int
    compression: str  # "", "gzip" or "zstd"
    digest: str  # of the uncompressed content (== raw_digest when not compressed)
    size: int


class _HashingRaw(io.RawIOBase):
    """Reads from `src`, hashing and counting every byte that passes."""

    def __init__(self, src: MemberReader):
        self._src = src
        self.hasher = dg.Hasher()

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self._src.readinto(b)
        self.hasher.update(memoryview(b)[:n])
        return n


def stage_stream(src: MemberReader, directory: Path) -> Staged:
    """Copy `src` to a new file in `directory`, uncompressed, hashing both forms. The load
    adopts (and fsyncs) what it keeps once everything checked; WritebackFile starts
    writing it out meanwhile."""
    with TempBlob(directory, prefix="member-", what="staging the archive") as blob:
        if sniff(src.peek(4)):
            staged = _stage_compressed(src, blob.file, blob.path)
        else:
            # Not compressed: copy and hash (on LayerSink's hash thread) in one pass.
            size = src.remaining
            with LayerSink(blob.file, "") as sink:
                sink.write_from(src, size)
                result = sink.finish()
            staged = Staged(blob.path, result.diff_id, size, "", result.diff_id, size)
        blob.keep()
    return staged


def _stage_compressed(src: MemberReader, out: WritebackFile, path: Path) -> Staged:
    raw = _HashingRaw(src)
    buffered = io.BufferedReader(raw, _CHUNK)
    content = open_uncompressed(buffered)
    compression = content.compression
    hasher = dg.Hasher()
    try:
        while chunk := content.read(_CHUNK):
            out.write(chunk)
            hasher.update(chunk)
    finally:
        content.close()
    while buffered.read(_CHUNK):  # bytes after a compressed stream still count for its digest
        pass
    return Staged(path, raw.hasher.digest(), raw.hasher.size, compression, hasher.digest(), hasher.size)


XZ_MAGIC = b"\xfd7zXZ\x00"
BZIP2_MAGIC = b"BZh"


def open_any(f: BinaryIO, label: str) -> ByteReader:
    """The uncompressed stream of a tarball that may be gzip, zstd, xz or bzip2-compressed
    (as `docker load` and `docker import` accept). `f` must be buffered (have peek)."""
    head = f.peek(6)[:6] if hasattr(f, "peek") else b""
    if head.startswith(XZ_MAGIC):
        import lzma

        return _Translated(lzma.open(f), label, (lzma.LZMAError, EOFError))
    if head.startswith(BZIP2_MAGIC):
        import bz2

        return _Translated(bz2.open(f), label, (OSError, EOFError, ValueError))
    return open_uncompressed(f)


class _Translated(io.RawIOBase):
    """Decoder errors of lzma/bz2 as one-line ArchiveErrors."""

    def __init__(self, inner: ByteReader, label: str, errors: tuple[type[Exception], ...]) -> None:
        self._inner, self._label, self._errors = inner, label, errors

    def readable(self) -> bool:
        return True

    def readinto(self, b: WriteableBuffer) -> int:
        view = memoryview(b)
        try:
            data = self._inner.read(len(view))
        except self._errors as e:
            raise ArchiveError(f"{self._label}: corrupt or truncated compressed data ({e})") from None
        view[:len(data)] = data
        return len(data)


def check_blob_name(name: str, staged: Staged) -> None:
    """A file at blobs/<algo>/<hex> must hash to that name."""
    m = _BLOB_NAME.match(name)
    if m and staged.raw_digest != f"{m.group(1)}:{m.group(2)}":
        raise ArchiveError(f"blob {m.group(1)}:{m.group(2)} in the archive is corrupt "
                           f"(its content hashes to {staged.raw_digest})")


def read_document(staged: Staged, what: str) -> bytes:
    if staged.size > MAX_DOCUMENT:
        raise ArchiveError(f"{what} is {staged.size} bytes: too large for a JSON document")
    return staged.path.read_bytes()


class TarMembers:
    """Every regular file of a tar stream, staged in order of arrival (a pipe is fine)."""

    def __init__(self, stream: ByteReader, directory: Path, label: str):
        self.label = label
        self._files: dict[str, Staged] = {}
        self._links: dict[str, str] = {}
        try:
            for member, content in members(stream):
                self._add(member, content, directory)
        except TarFormatError as e:
            raise ArchiveError(f"{label}: truncated or not a tar archive ({e})") from None
        except LayerError as e:
            raise ArchiveError(f"{label}: truncated or corrupt archive ({e})") from None
        if not self._files:
            raise ArchiveError(f"{label}: the archive is empty or not a tar archive")

    def _add(self, member: Member, content: MemberReader, directory: Path) -> None:
        name = _clean(member.name)
        if member.is_file:
            staged = stage_stream(content, directory)
            check_blob_name(name, staged)
            self._files[name] = staged
        elif member.issym():
            self._links[name] = _clean(os.path.join(os.path.dirname(name), member.linkname))
        elif member.islnk():
            self._links[name] = _clean(member.linkname)

    def names(self) -> set[str]:
        return set(self._files) | set(self._links)

    def get(self, name: str) -> Staged | None:
        name = _clean(name)
        for _ in range(16):  # follow links, but not around a loop
            if name in self._files:
                return self._files[name]
            if name not in self._links:
                return None
            name = self._links[name]
        return None


class DirMembers:
    """Files of an OCI layout directory, staged only when asked for (unused blobs stay put)."""

    def __init__(self, root: Path, directory: Path):
        self.label = str(root)
        self._root = root
        self._dir = directory
        self._cache: dict[str, Staged] = {}

    def names(self) -> set[str]:
        return {str(p.relative_to(self._root)) for p in self._root.glob("*") if p.is_file()}

    def get(self, name: str) -> Staged | None:
        name = _clean(name)
        if name not in self._cache:
            path = (self._root / name).resolve()
            if self._root.resolve() not in path.parents or not path.is_file():
                return None  # names from manifest.json must not reach outside the directory
            with open(path, "rb", buffering=0) as src:
                try:
                    staged = stage_stream(MemberReader(src, os.fstat(src.fileno()).st_size), self._dir)
                except (TarFormatError, LayerError) as e:
                    raise ArchiveError(f"{self.label}: {name}: {e}") from None
            check_blob_name(name, staged)
            self._cache[name] = staged
        return self._cache[name]


def _clean(name: str) -> str:
    return "/".join(p for p in name.split("/") if p and p != ".")
