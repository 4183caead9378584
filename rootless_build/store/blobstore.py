"""The blob store as callers see it: a handful of operations on content-addressed blobs,
as umoci's cas.Engine has (put, get, stat, delete, list). Reads are verified: `open`
checks digest (and size) when its reader ends or closes, `read` before it returns.
DirBlobStore (store/blobs.py) is the one backend: blobs/<algo>/<hex> in the store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

if TYPE_CHECKING:
    from rootless_build.store.blobs import BlobWriter


@runtime_checkable
class BlobStore(Protocol):
    def has(self, digest: str) -> bool:
        """Whether the blob is stored (its content is not checked)."""

    def size(self, digest: str) -> int:
        """Its size in bytes, as stored."""

    def open(self, digest: str, size: int | None = None, *, verify: bool = True) -> BinaryIO:
        """A forward-only reader; BlobCorrupt when the bytes do not match (on end or close)."""

    def read(self, digest: str) -> bytes:
        """A small blob (manifest, config) whole, checked."""

    def writer(self, expected: str | None = None, expected_size: int | None = None) -> BlobWriter:
        """A temp file that becomes a blob on commit (hash, fsync, adopt)."""

    def put_bytes(self, data: bytes) -> str:
        """Store small bytes; their digest."""

    def delete(self, digest: str) -> None:
        """Remove a blob (GC only, under its lock); absent is fine."""

    def list(self) -> Iterator[str]:
        """Every stored blob's digest."""
