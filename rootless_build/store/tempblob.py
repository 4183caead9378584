"""TempBlob: the one way a blob is written into the store (pull, load, import, compressed
variants, and BlobWriter for everything else): a temp file in the store's tmp dir written
through WritebackFile (which turns a write error, a full disk first, into one StoreError),
then fsynced and adopted under the digest its writer took of the bytes written, or removed.

Hashing stays with the caller: BlobWriter hashes inline as the kernel takes each piece,
LayerSink on its hash thread; either way a failed write ends the blob, so no digest ever
covers bytes that did not reach the file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rootless_build.store.fserrors import write_error
from rootless_build.store.writeback import WritebackFile

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType


class Adopter(Protocol):
    """Where a finished temp file goes: BlobStore.adopt (named so to keep blobs.py, which
    writes through TempBlob, and this module from importing each other)."""

    def adopt(self, tmp_path: Path, digest: str) -> None: ...


class TempBlob:
    """Create in `directory`; write() or hand `.file` to a LayerSink; then commit(digest),
    or keep() it for a later BlobStore.adopt (load stages first, adopts when all checked).
    Leaving the `with` block otherwise removes the file."""

    def __init__(self, directory: Path, *, prefix: str = "blob-", what: str = "writing a blob",
                 on_written: Callable[[memoryview], None] | None = None) -> None:
        import tempfile  # lazily: a cached build writes no blob (see store/atomic.py)

        self.what = what
        try:
            fd, name = tempfile.mkstemp(dir=directory, prefix=prefix)
        except OSError as e:
            raise write_error(e, directory, what) from None
        self.path = Path(name)
        self.file = WritebackFile(fd, on_written, what)
        self._open = True
        self._done = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self.file.write(data)

    def close(self, fsync: bool = True) -> None:
        """Flush to disk (unless the caller fsyncs later) and close the descriptor."""
        if self._open:
            try:
                if fsync:
                    self.file.fsync()
            finally:
                self._open = False
                os.close(self.file.fd)

    def commit(self, blobs: Adopter, digest: str) -> None:
        """fsync, then make the file the blob `digest` (idempotent: an existing blob wins)."""
        self.close()
        blobs.adopt(self.path, digest)
        self._done = True

    def keep(self) -> Path:
        """Close without fsync and leave the file for a later adopt(..., fsync=True)."""
        self.close(fsync=False)
        self._done = True
        return self.path

    def abort(self) -> None:
        try:
            self.close(fsync=False)
        except OSError:
            pass
        self.path.unlink(missing_ok=True)
        self._done = True

    def __enter__(self) -> TempBlob:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None or not self._done:
            self.abort()
