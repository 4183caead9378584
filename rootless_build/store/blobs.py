"""Content-addressed blobs under blobs/<algo>/<hex>: idempotent, atomic, verified."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from rootless_build.errors import BlobCorrupt, StoreError
from rootless_build.oci import digest as dg
from rootless_build.store.atomic import fsync_dir

if TYPE_CHECKING:
    from types import TracebackType

    from rootless_build.store.scratch import Scratch

_CHUNK = 1 << 20


class BlobWriter:
    """A blob written from a stream and hashed as it goes (a TempBlob underneath): on
    commit its digest and size are checked against what was expected, then it is adopted.
    Bytes are hashed only once the kernel took them, and a write error ends the blob."""

    def __init__(self, store: DirBlobStore, expected: str | None = None, expected_size: int | None = None,
                 what: str = "writing a blob"):
        from rootless_build.store.tempblob import TempBlob  # lazily: a cached build writes no blob

        self._store = store
        self.expected = expected
        self.expected_size = expected_size
        self._hasher = dg.Hasher()
        self._temp = TempBlob(store.tmp_dir, what=what, on_written=self._hasher.update)
        self.tmp_path = str(self._temp.path)
        self.digest: str | None = None

    @property
    def size(self) -> int:
        return self._hasher.size

    def write(self, data: bytes | memoryview) -> int:
        return self._temp.write(data)

    def commit(self, check: Callable[[Path, str], None] | None = None) -> str:
        """Make the temp file the blob named by its digest (checked against the expected
        digest and size); `check(temp path, digest)` may refuse its content before that."""
        self._temp.close()
        actual = self._hasher.digest()
        try:
            if self.expected and actual != self.expected:
                raise BlobCorrupt(f"digest mismatch: expected {self.expected}, got {actual}")
            if self.expected_size is not None and self.size != self.expected_size:
                raise BlobCorrupt(f"size mismatch for {actual}: expected {self.expected_size} bytes, got {self.size}")
            if check is not None:
                check(self._temp.path, actual)
            self._temp.commit(self._store, actual)
        except BaseException:
            self.abort()
            raise
        self.digest = actual
        return actual

    def abort(self) -> None:
        self._temp.abort()

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None or self.digest is None:
            self.abort()


class DirBlobStore:
    """The store's blobs/ directory: the BlobStore protocol (store/blobstore.py)."""

    def __init__(self, blobs_dir: Path, scratch: Scratch):
        self.dir = blobs_dir
        self._scratch = scratch
        self._fresh: set[str] = set()  # adopted by this process: read back unverified

    @property
    def tmp_dir(self) -> Path:
        """Where blobs are written before they are adopted (this process's temp space)."""
        return self._scratch.path

    def path(self, digest: str) -> Path:
        algo, hexpart = dg.parse(digest)
        return self.dir / algo / hexpart

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def open(self, digest: str, size: int | None = None, *, verify: bool = True) -> BinaryIO:
        """A forward-only reader whose digest (and `size`, when given) are checked when it
        reaches the end or is closed (store/verified.py): BlobCorrupt then names the blob.
        A blob this process wrote itself is not hashed again; nor with verify=False, for a
        caller that checks the bytes itself."""
        fd = self._open_fd(digest)
        if not verify or digest in self._fresh:
            return os.fdopen(fd, "rb")
        from rootless_build.store.verified import VerifiedReader

        return VerifiedReader(fd, digest, size, str(self.path(digest)))  # type: ignore[return-value]

    def open_raw(self, digest: str) -> BinaryIO:
        """A seekable, unverified reader, for single files at known offsets of a layer
        (build.imagefs, whose layer index was made by a verified pass over the blob)."""
        return os.fdopen(self._open_fd(digest), "rb")

    def _open_fd(self, digest: str) -> int:
        try:
            return os.open(self.path(digest), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise StoreError(f"blob {digest} is missing from the store; `rootless-build pull` the image "
                             "again, or `rootless-build rmi` it") from None

    def read(self, digest: str) -> bytes:
        """Read a small blob (manifest, config) and check its digest."""
        with self.open_raw(digest) as f:
            data = f.read()
        if dg.of_bytes(data) != digest:
            from rootless_build.store.verified import corrupt_message

            raise BlobCorrupt(corrupt_message(digest, "digest mismatch"))
        return data

    def put_bytes(self, data: bytes) -> str:
        digest = dg.of_bytes(data)
        if self.has(digest):
            return digest
        with self.writer(expected=digest) as w:
            w.write(data)
            w.commit()
        return digest

    def writer(self, expected: str | None = None, expected_size: int | None = None,
               what: str = "writing a blob") -> BlobWriter:
        return BlobWriter(self, expected, expected_size, what)

    def adopt(self, tmp_path: Path, digest: str, *, fsync: bool = False) -> None:
        """Move a fully written, already hashed temp file into place (idempotent); `fsync`
        it first when its writer did not (load's staged files)."""
        dest = self.path(digest)
        try:
            if dest.exists():
                os.unlink(tmp_path)
                return
            if fsync:
                fd = os.open(tmp_path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp_path, 0o644)
            os.replace(tmp_path, dest)
            fsync_dir(dest.parent)
            self._fresh.add(digest)
        except OSError as e:
            from rootless_build.store.fserrors import write_error

            raise write_error(e, dest.parent, f"storing blob {digest}") from None

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

    def list(self) -> Iterator[str]:
        if not self.dir.is_dir():
            return
        for algo_dir in self.dir.iterdir():
            if algo_dir.is_dir():
                for entry in algo_dir.iterdir():
                    yield f"{algo_dir.name}:{entry.name}"

    def verify(self, digest: str) -> str | None:
        """None when the blob's content matches its name, else what is wrong."""
        hasher = dg.Hasher()
        try:
            with open(self.path(digest), "rb") as f:
                while chunk := f.read(_CHUNK):
                    hasher.update(chunk)
        except FileNotFoundError:
            return "missing"
        actual = hasher.digest()
        return None if actual == digest else f"content hashes to {actual}"
