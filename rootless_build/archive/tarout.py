"""Write an archive tar member by member: a header with the known size, then the file's
bytes copied by the kernel (copy_file_range/sendfile) when it can, never held in memory.
Into a seekable output, a member can also be streamed before its name and size are known
(a layer compressed on the way): its header is written afterwards in the place kept.

Members get fixed metadata (owner 0:0, mtime 0) so that saving the same images twice
gives the same archive bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from rootless_build.layers.tarheader import BLOCK, DIRTYPE, REGTYPE, encode_header, padding
from rootless_build.oci.models import Descriptor

_RECORD = 20 * BLOCK  # tar pads the archive to whole records, like GNU tar and Go
_CHUNK = 1 << 20


class TarOut:
    def __init__(self, out: BinaryIO):
        self._out = out
        try:
            self._fd: int | None = out.fileno()
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
            self._fd = None
        self._kernel_copy = self._fd is not None
        try:
            self._base: int | None = out.tell() if out.seekable() else None
        except (AttributeError, OSError):
            self._base = None
        self._written = 0
        self._dirs: set[str] = set()

    def add_dir(self, name: str) -> None:
        name = name.rstrip("/")
        if name and name not in self._dirs:
            self._dirs.add(name)
            self._write(encode_header(name.encode() + b"/", DIRTYPE, mode=0o755, uid=0, gid=0, mtime=0))

    def add_bytes(self, name: str, data: bytes) -> None:
        self._parents(name)
        self._write(encode_header(name.encode(), REGTYPE, mode=0o644, uid=0, gid=0, mtime=0, size=len(data)))
        self._write(data + b"\0" * padding(len(data)))

    def add_file(self, name: str, path: Path, size: int) -> None:
        """Copy `size` bytes of `path` as member `name` (the size is checked, not trusted)."""
        self._parents(name)
        self._write(encode_header(name.encode(), REGTYPE, mode=0o644, uid=0, gid=0, mtime=0, size=size))
        with open(path, "rb", buffering=0) as src:
            if os.fstat(src.fileno()).st_size != size:
                raise OSError(f"{path} changed size while being archived")
            self._copy(src, size)
        self._write(b"\0" * padding(size))

    def can_defer(self) -> bool:
        return self._base is not None

    def add_deferred(self, directory: str, produce: Callable[[BinaryIO], Descriptor],
                     basename_for: Callable[[str], str]) -> Descriptor:
        """Stream a member made by `produce(out)` (returning its descriptor), then go back
        and write its header, named `directory/basename_for(digest)`. The name must fit a
        ustar header (100 bytes) and the size 8 GiB: no PAX record can be added later."""
        self._parents(f"{directory}/member")
        header_at = self._written
        self._write(b"\0" * BLOCK)
        counter = _Counting(self._out)
        desc = produce(counter)
        if counter.size != desc.size:
            raise OSError(f"{desc.digest}: {counter.size} bytes written, {desc.size} expected")
        self._written += desc.size
        header = encode_header(f"{directory}/{basename_for(desc.digest)}".encode(), REGTYPE,
                               mode=0o644, uid=0, gid=0, mtime=0, size=desc.size)
        if len(header) != BLOCK:
            raise OSError(f"{desc.digest}: name or size too large for a header written afterwards")
        self._write(b"\0" * padding(desc.size))
        # Positions from our own count: tell() of a buffered file goes stale after the
        # kernel copies into its descriptor; seek() syncs it again.
        self._out.seek(self._base + header_at)
        self._out.write(header)
        self._out.seek(self._base + self._written)
        return desc

    def close(self) -> None:
        """The two zero blocks that end a tar, padded to a whole record."""
        end = self._written + 2 * BLOCK
        self._write(b"\0" * (2 * BLOCK + (-end % _RECORD)))
        self._out.flush()

    def _parents(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self.add_dir("/".join(parts[:i]))

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._written += len(data)

    def _copy(self, src, size: int) -> None:
        remaining = size
        if self._kernel_copy:
            self._out.flush()
            remaining = self._kernel(src.fileno(), remaining)
        while remaining:
            chunk = src.read(min(_CHUNK, remaining))
            if not chunk:
                raise OSError(f"{src.name} ended {remaining} bytes early")
            self._out.write(chunk)
            remaining -= len(chunk)
        self._written += size

    def _kernel(self, src_fd: int, remaining: int) -> int:
        """Copy with copy_file_range, else sendfile; returns what is left for read/write."""
        for call in (os.copy_file_range, _sendfile):
            try:
                while remaining:
                    n = call(src_fd, self._fd, min(remaining, 1 << 30))
                    if n == 0:
                        break
                    remaining -= n
                return remaining
            except OSError:
                if remaining and os.lseek(src_fd, 0, os.SEEK_CUR) != 0:
                    raise  # part copied: a real I/O error, not "unsupported here"
        self._kernel_copy = False
        return remaining


class _Counting:
    """Passes writes through to the archive, counting them."""

    def __init__(self, out: BinaryIO):
        self._out = out
        self.size = 0

    def write(self, data) -> int:
        self._out.write(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True


def _sendfile(src_fd: int, dst_fd: int, count: int) -> int:
    return os.sendfile(dst_fd, src_fd, None, count)
