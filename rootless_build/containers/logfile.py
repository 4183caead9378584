"""The container log ($ROOT/containers/<id>/ctr.log) in podman's k8s-file format:

    2024-05-01T10:00:00.123456789Z stdout F a whole line
    2024-05-01T10:00:00.123456789Z stderr P a partial line (no newline yet)

One record per line of output, so output of any size streams through in constant memory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

STREAMS = {b"stdout": 1, b"stderr": 2}


def _timestamp() -> bytes:
    ns = time.time_ns()
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)).encode() + b".%09dZ" % frac


class LogWriter:
    def __init__(self, path: os.PathLike | str):
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)

    def write(self, stream: bytes, data: bytes) -> None:
        if not data:
            return
        stamp = _timestamp()
        out = []
        for line in data.splitlines(keepends=True):
            if line.endswith(b"\n"):
                out.append(b"%s %s F %s" % (stamp, stream, line))
            else:
                out.append(b"%s %s P %s\n" % (stamp, stream, line))
        os.write(self._fd, b"".join(out))

    def close(self) -> None:
        os.close(self._fd)


def parse_line(line: bytes) -> tuple[int, bytes, bytes] | None:
    """(1 for stdout / 2 for stderr, timestamp, content as written) of one record."""
    parts = line.split(b" ", 3)
    if len(parts) != 4 or parts[1] not in STREAMS:
        return None
    content = parts[3]
    if parts[2] == b"P":
        content = content[:-1] if content.endswith(b"\n") else content
    return STREAMS[parts[1]], parts[0], content


def read_records(f: BinaryIO, follow: Callable[[], bool] | None = None,
                 poll_interval: float = 0.1) -> Iterator[tuple[int, bytes, bytes]]:
    """Records from the start; with `follow`, keep waiting for more while follow() is True
    (one last read happens after it turns False, so nothing written at the end is lost)."""
    pending = b""
    while True:
        chunk = f.readline()
        if chunk:
            pending += chunk
            if not pending.endswith(b"\n"):
                continue        # the writer is mid-line: wait for the rest
            record = parse_line(pending)
            pending = b""
            if record:
                yield record
            continue
        if follow is None:
            return
        if not follow():
            follow = None       # drain what is left, then stop
            continue
        time.sleep(poll_interval)
