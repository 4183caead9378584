"""Frames on the attach socket between a container's monitor and its clients.

Each frame: one type byte, a 4-byte big-endian length, the payload. The socket path is
too long for sun_path (108 bytes) under $XDG_RUNTIME_DIR, so it is reached through
/proc/self/fd/N of its directory, as conmon does.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# monitor -> client
STDOUT = b"o"
STDERR = b"e"
EXIT = b"x"          # payload: the exit status in decimal; the last frame
# client -> monitor
HELLO = b"h"         # payload: b"i" it sends stdin, b"" it reads output, b"w" only waits for EXIT
WATCH = b"w"
STDIN = b"i"
STDIN_CLOSE = b"c"
RESIZE = b"w"        # payload: rows, cols as two big-endian uint16

_HEADER = struct.Struct(">cI")
HEADER_SIZE = _HEADER.size
MAX_PAYLOAD = 1 << 20


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return _HEADER.pack(kind, len(payload)) + payload


def resize_payload(rows: int, cols: int) -> bytes:
    return struct.pack(">HH", rows, cols)


def parse_resize(payload: bytes) -> tuple[int, int]:
    return struct.unpack(">HH", payload[:4])


class FrameReader:
    """Accumulates bytes and yields complete frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[bytes, bytes]]:
        self._buf += data
        while len(self._buf) >= HEADER_SIZE:
            kind, size = _HEADER.unpack_from(self._buf)
            if size > MAX_PAYLOAD:
                raise ValueError("oversized frame")
            if len(self._buf) < HEADER_SIZE + size:
                return
            payload = bytes(self._buf[HEADER_SIZE:HEADER_SIZE + size])
            del self._buf[:HEADER_SIZE + size]
            yield kind, payload


@contextmanager
def _short_path(path: Path) -> Iterator[str]:
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def listen(path: Path) -> socket.socket:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    with _short_path(path) as short:
        sock.bind(short)
    os.chmod(path, 0o600)
    sock.listen(16)
    return sock


def wait_exit(path: Path) -> int | None:
    """The exit status the monitor announces (None if it goes away without one)."""
    sock = connect(path)
    try:
        sock.sendall(frame(HELLO, WATCH))
        reader = FrameReader()
        while data := sock.recv(4096):
            for kind, payload in reader.feed(data):
                if kind == EXIT:
                    return int(payload or b"0")
        return None
    finally:
        sock.close()


def connect(path: Path) -> socket.socket:
    """Raises FileNotFoundError or ConnectionRefusedError when no monitor listens."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        with _short_path(path) as short:
            sock.connect(short)
    except BaseException:
        sock.close()
        raise
    return sock
