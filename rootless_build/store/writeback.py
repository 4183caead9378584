"""The one low-level writer of the store's blob temp files (build, commit, pull, load,
import, compressed variants). It starts writeback as it goes, so the fsync before the
rename finds little left to flush (what git and dpkg do for large files), and it turns a
write error into one StoreError (store.fserrors): a full disk names its filesystem."""

from __future__ import annotations

import os
from collections.abc import Callable

from rootless_build.store.fserrors import write_error

_WINDOW = 16 << 20


class WritebackFile:
    """Plain write()s to `fd`; every 16 MiB the kernel is asked to start writing them to
    disk (sync_file_range SYNC_FILE_RANGE_WRITE: it does not wait). `on_written` sees
    each piece once the kernel took it (to hash only what was written)."""

    def __init__(self, fd: int, on_written: Callable[[memoryview], object] | None = None,
                 what: str = "writing to the store") -> None:
        self.fd = fd
        self.offset = 0
        self._started = 0
        self._sync_range = _sync_file_range()
        self._on_written = on_written
        self._what = what

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            try:
                n = os.write(self.fd, view)
            except OSError as e:
                raise write_error(e, self._path(), self._what) from None
            if self._on_written is not None:
                self._on_written(view[:n])
            view = view[n:]
        self.offset += total
        if self._sync_range is not None and self.offset - self._started >= _WINDOW:
            self._sync_range(self.fd, self._started, self.offset - self._started)
            self._started = self.offset
        return total

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def fsync(self) -> None:
        try:
            os.fsync(self.fd)
        except OSError as e:
            raise write_error(e, self._path(), self._what) from None

    def _path(self) -> str:
        try:
            return os.readlink(f"/proc/self/fd/{self.fd}")
        except OSError:
            return f"file descriptor {self.fd}"


def _sync_file_range() -> Callable[[int, int, int], object] | None:
    """libc's sync_file_range(fd, off, n, SYNC_FILE_RANGE_WRITE), or None where missing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.sync_file_range
        func.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    except (OSError, AttributeError):
        return None
    return lambda fd, offset, count: func(fd, offset, count, 2)
