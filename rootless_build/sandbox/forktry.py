"""Trying something that may be refused (a namespace, a mount, a chroot) in a forked child,
so nothing it changes stays in this process; the child's failure comes back as one line."""

from __future__ import annotations

import os
from collections.abc import Callable


def describe(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror + (f" ({e.filename})" if e.filename else "")
    return str(e) or type(e).__name__


def in_fork(fn: Callable[[], object]) -> str | None:
    """Run fn in a forked child: None when it returned, else why it failed (one line)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        message = b""
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - reported to the parent as text
            message = " ".join(describe(e).split()).encode(errors="replace")[:2000] or b"failed"
        os.write(w, message)
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 4096):
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if not data and status != 0:
        return f"probe process ended with status {status}"
    return data.decode(errors="replace") or None
