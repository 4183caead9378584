"""fcntl locks on files beside the layout.

`index.lock` serialises read-modify-write of index.json (held for milliseconds).
`gc.lock` is held shared by every command that writes blobs (builds, pulls, loads) and
exclusively by prune, so a collection never deletes a blob a running build just wrote.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def locked(path: Path, exclusive: bool = True) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock
