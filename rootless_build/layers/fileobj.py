"""The file-object surfaces the layer code reads and writes through.

BinaryIO is too wide for them (LayerSink, WritebackFile, ForwardReader or a tar entry's
content implement only a few of its methods) and too narrow for the readers (typeshed's
BinaryIO has no readinto, which the zero-copy paths need). These protocols name what is used.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self, TypeAlias

Bytes: TypeAlias = "bytes | bytearray | memoryview"


class ByteReader(Protocol):
    """Anything with read(): a file, a decompressor, a tar entry's content."""

    def read(self, size: int = -1, /) -> bytes: ...


class ChunkReader(ByteReader, Protocol):
    """A ByteReader that also fills the caller's buffer (no copy)."""

    def readinto(self, buffer: memoryview, /) -> int: ...


class ByteWriter(Protocol):
    """Where a layer tar or blob is written: a file, a LayerSink, a WritebackFile."""

    def write(self, data: Bytes, /) -> int | None: ...

    def flush(self) -> None: ...


class DecodedStream(Protocol):
    """compression.open_uncompressed's result: a layer's tar stream, whatever the blob's
    compression (named in `compression`: "", "gzip" or "zstd")."""

    compression: str

    def read(self, size: int = -1, /) -> bytes: ...

    def readinto(self, buffer: memoryview, /) -> int: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...
