"""Compress a stored layer for save/push, and read any layer blob as an uncompressed stream."""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Any

from rootless_build.errors import LayerError
from rootless_build.layers.fileobj import ByteReader, ByteWriter, DecodedStream
from rootless_build.layers.sink import LayerSink

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
READ_SIZE = 1 << 20


def compress_file(src_path: str | os.PathLike[str], dst: ByteWriter, compression: str) -> tuple[str, int]:
    """Stream `src_path` (an uncompressed layer) into `dst`, compressed; return (digest, size)
    of the bytes written. Same block framing as LayerSink, so the result is byte-identical
    to compressing the layer while it was built."""
    with open(src_path, "rb", buffering=0) as src:
        size = os.fstat(src.fileno()).st_size
        with LayerSink(dst, compression, hash_uncompressed=False) as sink:
            sink.write_from(src, size)
            result = sink.finish()
    return result.digest, result.size


def sniff(head: bytes) -> str:
    """'gzip', 'zstd' or '' from a blob's first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return ""


class _Prepended(io.RawIOBase):
    """A non-seekable stream with bytes already read put back in front."""

    def __init__(self, head: bytes, rest: ByteReader) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: WriteableBuffer) -> int:
        view = memoryview(b)
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        if hasattr(self._rest, "readinto"):
            got: int = self._rest.readinto(b)
            return got
        data = self._rest.read(len(view))
        view[:len(data)] = data
        return len(data)


def _rewound(fileobj: Any, head: bytes) -> Any:
    if hasattr(fileobj, "peek"):
        return fileobj  # we only peeked
    try:
        if fileobj.seekable():
            fileobj.seek(-len(head), io.SEEK_CUR)
            return fileobj
    except (OSError, AttributeError):
        pass
    return io.BufferedReader(_Prepended(head, fileobj), READ_SIZE)


def open_uncompressed(fileobj: Any) -> DecodedStream:
    """A readable stream of the tar inside `fileobj` (gzip, zstd or plain, by magic bytes).

    Gzip is inflated by isal on a helper thread (overlapping with the consumer); zstd by
    zstandard, across concatenated frames. Decoding errors become LayerError. Closing the
    result stops helper threads but leaves `fileobj` open (the caller owns it).
    """
    if hasattr(fileobj, "peek"):
        head = fileobj.peek(4)[:4]
    else:
        head = fileobj.read(4)
    kind = sniff(head)
    stream = _rewound(fileobj, head)
    if kind == "gzip":
        from isal import igzip_threaded

        # A file object is never closed by isal (it only closes what it opened itself).
        return _Decoded(igzip_threaded.open(  # type: ignore[no-untyped-call]  # isal: no annotations
            stream, "rb", threads=1, block_size=READ_SIZE), "gzip", True)
    if kind == "zstd":
        import zstandard

        dctx = zstandard.ZstdDecompressor()
        reader = dctx.stream_reader(stream, read_size=READ_SIZE, read_across_frames=True, closefd=False)
        return _Decoded(reader, "zstd", True)
    return _Decoded(stream, "", False)


class _Decoded(io.RawIOBase):
    """Forwards reads, turning decoder failures into LayerError."""

    def __init__(self, inner: Any, compression: str, owns_inner: bool) -> None:
        self._inner = inner
        self.compression = compression
        self._owns_inner = owns_inner

    def readable(self) -> bool:
        return True

    def readinto(self, b: WriteableBuffer) -> int:
        try:
            if hasattr(self._inner, "readinto"):
                n: int = self._inner.readinto(b)
                return n
            data = self._inner.read(len(memoryview(b)))
        except Exception as e:  # noqa: BLE001 - isal and zstandard raise their own types
            raise self._translate(e) from e
        memoryview(b)[:len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        try:
            data: bytes = self._inner.read(size)
            return data
        except Exception as e:  # noqa: BLE001
            raise self._translate(e) from e

    def _translate(self, e: Exception) -> Exception:
        if isinstance(e, LayerError) or (isinstance(e, OSError) and e.errno):
            return e  # ours, or a real I/O error rather than a decoding one
        what = f"{self.compression} " if self.compression else ""
        return LayerError(f"corrupt {what}layer stream: {e or type(e).__name__}")

    def close(self) -> None:
        if not self.closed:
            if self._owns_inner:
                self._inner.close()
            super().close()
