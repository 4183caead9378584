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

_CHUNK = 1 << 20


class BlobWriter:
    """A blob written from a stream and hashed as it goes (a TempBlob underneath): on
    commit its digest and size are checked against what was expected, then it is adopted.
    Bytes are hashed only once the kernel took them, and a write error ends the blob."""

    def __init__(self, store: BlobStore, expected: str | None = None, expected_size: int | None = None,
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


class BlobStore:
    def __init__(self, blobs_dir: Path, tmp_dir: Path):
        self.dir = blobs_dir
        self.tmp_dir = tmp_dir

    def path(self, digest: str) -> Path:
        algo, hexpart = dg.parse(digest)
        return self.dir / algo / hexpart

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise StoreError(f"blob {digest} is missing from the store (run `rootless-build fsck`)") from None

    def read(self, digest: str) -> bytes:
        """Read a small blob (manifest, config) and check its digest."""
        with self.open(digest) as f:
            data = f.read()
        if dg.of_bytes(data) != digest:
            raise BlobCorrupt(f"blob {digest} is corrupt (digest mismatch); `rootless-build rmi` or pull the image again")
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

    def new_temp(self, prefix: str = "layer-") -> tuple[int, Path]:
        """A temp file in the store's tmp dir, for callers that hash as they write."""
        import tempfile

        fd, name = tempfile.mkstemp(dir=self.tmp_dir, prefix=prefix)
        return fd, Path(name)

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
