"""Read-side stream helpers for extraction: a forward-only seekable reader for tarfile,
and a reader that hashes the uncompressed stream on the way (diff_id)."""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING, cast

from rootless_build.errors import LayerError
from rootless_build.layers.fileobj import ChunkReader

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

READ_SIZE = 1 << 20


class ForwardReader(io.RawIOBase):
    """Buffered reads plus tell() and forward-only seek(), which is all tarfile's
    non-stream reader needs (it only skips ahead over unread content and padding)."""

    def __init__(self, inner: ChunkReader) -> None:
        # (what has no peek here is a raw stream: _Decoded, HashingReader)
        self._inner: ChunkReader = (inner if hasattr(inner, "peek")
                                    else io.BufferedReader(cast(io.RawIOBase, inner), READ_SIZE))
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self._pos += len(data)
        return data

    def readinto(self, b: WriteableBuffer) -> int:
        n = self._inner.readinto(memoryview(b))
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = offset if whence == io.SEEK_SET else self._pos + offset
        if whence not in (io.SEEK_SET, io.SEEK_CUR) or target < self._pos:
            raise LayerError("layer tar reader tried to seek backwards in a stream")
        while self._pos < target:
            chunk = self._inner.read(min(target - self._pos, READ_SIZE))
            if not chunk:
                break  # tarfile reports the truncation itself
            self._pos += len(chunk)
        return self._pos


class HashingReader(io.RawIOBase):
    """sha256 of everything read through it."""

    def __init__(self, inner: ChunkReader) -> None:
        self._inner = inner
        self._hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, b: WriteableBuffer) -> int:
        n = self._inner.readinto(memoryview(b))
        self._hash.update(memoryview(b)[:n])
        return n

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self._hash.update(data)
        return data

    def drain(self) -> str:
        """Hash what the tar reader left unread (end-of-archive padding); the digest."""
        while chunk := self._inner.read(READ_SIZE):
            self._hash.update(chunk)
        return "sha256:" + self._hash.hexdigest()
