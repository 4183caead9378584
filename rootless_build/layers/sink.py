"""LayerSink: feed it a layer's uncompressed tar stream; it hashes, compresses and writes
it in one pass and reports diff_id, digest and sizes.

Data is cut into fixed 1 MiB blocks before it reaches the compressor, so the compressed
bytes depend only on the uncompressed bytes (not on how callers split their writes):
a layer compressed while it is built and one compressed later from the stored tar are
identical. sha256 of the uncompressed stream runs in a background thread (hashlib drops
the GIL on large buffers): measured on a 500 MiB file, copy+hash takes 0.56 s this way
against 0.75-0.9 s in one thread.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any, Protocol, cast

from rootless_build.errors import LayerError
from rootless_build.layers.fileobj import Bytes, ByteWriter, ChunkReader

BLOCK_SIZE = 1 << 20
_POOL = 4  # blocks in flight: enough to keep the hash thread busy, 4 MiB of memory
COMPRESSIONS = ("", "gzip", "zstd")


def write_fully(out: ByteWriter, data: Bytes) -> None:
    """out.write() that also copes with raw (unbuffered) files writing only part."""
    written = out.write(data)
    if written is not None and written < len(data):
        view = memoryview(data)[written:]
        while view:
            view = view[out.write(view):]


class _Hash(Protocol):
    def update(self, data: Bytes, /) -> None: ...


# (hasher, data, the pooled buffer under data or None)
_HashItem = tuple[_Hash, Bytes, "bytearray | None"]


@dataclass(frozen=True)
class LayerDigests:
    digest: str  # sha256 of the bytes written to the destination
    size: int  # bytes written to the destination
    diff_id: str  # sha256 of the uncompressed tar ("" when not computed)
    uncompressed_size: int
    compression: str  # "", "gzip" or "zstd"


class _HashThread:
    """Hashes buffers in order, off the main thread; returns pooled buffers when done."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_HashItem | None] = queue.SimpleQueue()
        self.free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="layer-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            hasher, view, pooled = item
            hasher.update(view)
            if pooled is not None:
                cast(memoryview, view).release()  # a pooled buffer always comes as a view of it
                self.free.put(pooled)

    def submit(self, hasher: _Hash, view: Bytes, pooled: bytearray | None = None) -> None:
        self._queue.put((hasher, view, pooled))

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join()


class _CountingWriter:
    """What the compressor writes: hashed and counted, then passed to the destination."""

    def __init__(self, dest: ByteWriter, hash_thread: _HashThread | None) -> None:
        self._dest = dest
        self._hash_thread = hash_thread
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: Bytes) -> int:
        data = bytes(data)  # the caller may reuse its buffer once we return
        write_fully(self._dest, data)
        self.size += len(data)
        if self._hash_thread is not None:
            self._hash_thread.submit(self.hasher, data)
        else:
            self.hasher.update(data)
        return len(data)

    def flush(self) -> None:
        self._dest.flush()

    def writable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return False


class LayerSink:
    """A write-only file object for a layer's uncompressed tar stream.

    `dest` receives the (compressed) blob and is neither closed nor fsynced here.
    Call finish() to get the LayerDigests; use as a context manager so that an error
    stops the helper threads.
    """

    def __init__(self, dest: ByteWriter, compression: str = "", *, hash_uncompressed: bool = True,
                 gzip_level: int = 1, gzip_threads: int = 2, zstd_level: int = 3,
                 zstd_threads: int = -1) -> None:
        if compression not in COMPRESSIONS:
            raise LayerError(f"unknown layer compression {compression!r}")
        self.compression = compression
        self._dest = dest
        self._hash_uncompressed = hash_uncompressed or compression == ""
        self._diff = hashlib.sha256()
        self._usize = 0
        self._hashes = _HashThread()
        for _ in range(_POOL):
            self._hashes.free.put(bytearray(BLOCK_SIZE))
        self._buf = self._hashes.free.get()
        self._view = memoryview(self._buf)
        self._fill = 0
        self._result: LayerDigests | None = None
        self._counter: _CountingWriter | None = None
        self._compressor: Any = None  # isal's or zstandard's writer: write() and close()
        if compression == "gzip":
            from isal import igzip_threaded

            # The compressed stream is written (and hashed) by isal's own writer thread.
            self._counter = _CountingWriter(dest, None)
            self._compressor = igzip_threaded.open(  # type: ignore[no-untyped-call]  # isal: no annotations
                self._counter, "wb", compresslevel=gzip_level, threads=gzip_threads, block_size=BLOCK_SIZE)
        elif compression == "zstd":
            import zstandard

            # zstd hands compressed output back on this thread: hash it on the hash thread.
            # Multi-threaded zstd gives the same bytes for any thread count >= 1 (-1 = all
            # CPUs); 0 would pick the single-threaded framing and change the digest.
            self._counter = _CountingWriter(dest, self._hashes)
            cctx = zstandard.ZstdCompressor(level=zstd_level, threads=zstd_threads, write_checksum=True)
            # zstandard's stub asks for IO[bytes]; it only calls write() and flush().
            self._compressor = cctx.stream_writer(cast(IO[bytes], self._counter), closefd=False,
                                                  write_size=BLOCK_SIZE, write_return_read=True)

    # -- file-object surface -------------------------------------------------------

    def writable(self) -> bool:
        return True

    def write(self, data: Bytes) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        pos = 0
        while pos < total:
            take = min(BLOCK_SIZE - self._fill, total - pos)
            self._view[self._fill:self._fill + take] = view[pos:pos + take]
            self._fill += take
            pos += take
            if self._fill == BLOCK_SIZE:
                self._submit()
        return total

    def write_from(self, src: ChunkReader, size: int) -> int:
        """Copy exactly `size` bytes from `src` (readinto) straight into the block buffers."""
        remaining = size
        while remaining:
            take = min(BLOCK_SIZE - self._fill, remaining)
            got = src.readinto(self._view[self._fill:self._fill + take])
            if not got:
                raise LayerError(f"source ended {remaining} bytes early (did the file change while being read?)")
            self._fill += got
            remaining -= got
            if self._fill == BLOCK_SIZE:
                self._submit()
        return size

    def flush(self) -> None:
        pass

    @property
    def closed(self) -> bool:
        return self._result is not None

    def _submit(self) -> None:
        view = self._view[:self._fill]
        if self._compressor is None:
            write_fully(self._dest, view)
        else:
            self._compressor.write(view)
        self._usize += self._fill
        if self._hash_uncompressed:
            self._hashes.submit(self._diff, view, self._buf)
            self._buf = self._hashes.free.get()
        else:
            view.release()
        self._view = memoryview(self._buf)
        self._fill = 0

    # -- completion ----------------------------------------------------------------

    def finish(self) -> LayerDigests:
        if self._result is not None:
            return self._result
        try:
            if self._fill:
                self._submit()
            if self._compressor is not None:
                self._compressor.close()
        finally:
            self._hashes.stop()
        self._dest.flush()
        diff_id = "sha256:" + self._diff.hexdigest() if self._hash_uncompressed else ""
        if self._counter is None:
            self._result = LayerDigests(diff_id, self._usize, diff_id, self._usize, "")
        else:
            self._result = LayerDigests("sha256:" + self._counter.hasher.hexdigest(), self._counter.size,
                                        diff_id, self._usize, self.compression)
        return self._result

    @property
    def result(self) -> LayerDigests:
        if self._result is None:
            raise LayerError("layer sink not finished")
        return self._result

    def abort(self) -> None:
        """Stop helper threads after an error; the destination holds garbage."""
        if self._result is not None:
            return
        try:
            if self._compressor is not None:
                self._compressor.close()
        except Exception:  # noqa: BLE001 - already failing; the first error is the one to report
            pass
        finally:
            self._hashes.stop()
            self._result = LayerDigests("", 0, "", 0, self.compression)

    def __enter__(self) -> LayerSink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None:
            self.abort()
