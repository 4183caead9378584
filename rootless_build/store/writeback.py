"""A blob temp file that starts writeback as it goes, so the fsync before the rename
finds little left to flush (what git and dpkg do for large files)."""

from __future__ import annotations

import os

_WINDOW = 16 << 20


class WritebackFile:
    """Plain write()s to `fd`; every 16 MiB the kernel is asked to start writing them to
    disk (sync_file_range SYNC_FILE_RANGE_WRITE: it does not wait)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.offset = 0
        self._started = 0
        self._sync_range = _sync_file_range()

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            view = view[os.write(self.fd, view):]
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
        os.fsync(self.fd)


def _sync_file_range():
    """libc's sync_file_range(fd, off, n, SYNC_FILE_RANGE_WRITE), or None where missing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.sync_file_range
        func.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    except (OSError, AttributeError):
        return None
    return lambda fd, offset, count: func(fd, offset, count, 2)
