"""Temp space per operation: $ROOT/tmp/<op>/, claimed by an flock on $ROOT/tmp/<op>.lock.

Every temp file and dir a command makes (blobs being written, a RUN step's upper dir, a
layer being decompressed) lives in its process's own <op> dir, made on first use. The
process holds the lock until it exits (the kernel drops it on kill -9 too), so whatever an
operation that was killed left behind is recognisable: a lock nobody holds. The next
command that needs temp space removes such leftovers as the user; what the user cannot
remove (files a RUN step created as another user of the namespace, owned by sub-ids) is
renamed stale-<op> and left to GC, which removes it inside the user namespace, as
containers/storage cleans up incomplete layers on start.

Races: the lock file is made before its dir, and removed only after it, so a dir without
a lock file is a leftover (or of an older version: those are removed once older than
ORPHAN_AGE, as a probe or a process that does not use this module may still be in one).
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rootless_build.errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Callable

    Remover = Callable[[Path], bool]  # removes a tree, True when it is gone

LOCK_SUFFIX = ".lock"
STALE_PREFIX = "stale-"
ORPHAN_AGE = 600  # seconds


class Scratch:
    """The temp space of this process in one store, made on first use."""

    def __init__(self, tmp_root: Path, remove: Remover):
        self.tmp_root = tmp_root
        self._remove = remove
        self._path: Path | None = None

    @property
    def path(self) -> Path:
        """(A forked child uses its parent's dir, whose lock it shares.)"""
        if self._path is None:
            try:
                sweep(self.tmp_root, self._remove)
            except OSError:
                pass  # best effort: cleaning must not stop the command
            self._path = _claim(self.tmp_root)
        return self._path


_claimed: list[tuple[int, Path, int]] = []  # (pid, dir, locked fd) claimed by this process


def release() -> None:
    """At exit (cli/main.py): remove this process's temp dirs when their users left them
    empty, as they should; anything else stays for the next command's sweep."""
    while _claimed:
        pid, folder, fd = _claimed.pop()
        if pid != os.getpid():
            continue  # a forked child's exit: the dir is its parent's
        try:
            folder.rmdir()
            os.unlink(f"{folder}{LOCK_SUFFIX}")
        except OSError:
            pass
        os.close(fd)


def _claim(tmp_root: Path) -> Path:
    for _ in range(20):
        name = f"op-{os.getpid()}-{os.urandom(4).hex()}"
        lock = tmp_root / f"{name}{LOCK_SUFFIX}"
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        except OSError as e:
            raise StoreError(f"cannot make temp space in {tmp_root}: {e.strerror}") from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not _still_linked(fd, lock):  # a sweeper took it between open and flock
            os.close(fd)
            continue
        os.mkdir(tmp_root / name, 0o700)
        # fd stays open (and locked) until the process ends or calls release()
        _claimed.append((os.getpid(), tmp_root / name, fd))
        return tmp_root / name
    raise StoreError(f"cannot make temp space in {tmp_root}")


def _still_linked(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def sweep(tmp_root: Path, remove: Remover, *, stale_too: bool = False) -> list[Path]:
    """Remove what killed operations left in tmp/; returns what could not be removed.
    Without `stale_too` (the cheap pass every command makes), remains already found
    unremovable are skipped, and new ones are renamed stale-*."""
    left: list[Path] = []
    try:
        entries = list(os.scandir(tmp_root))
    except FileNotFoundError:
        return left
    names = {e.name for e in entries}
    now = time.time()
    for entry in entries:
        name = entry.name
        if name.endswith(LOCK_SUFFIX):
            left += _sweep_claimed(tmp_root, name[: -len(LOCK_SUFFIX)], remove)
        elif name.startswith(STALE_PREFIX):
            if stale_too and not remove(Path(entry.path)):
                left.append(Path(entry.path))
        elif f"{name}{LOCK_SUFFIX}" not in names and not os.path.lexists(f"{entry.path}{LOCK_SUFFIX}"):
            try:
                old = now - entry.stat(follow_symlinks=False).st_mtime > ORPHAN_AGE
            except FileNotFoundError:
                continue
            if old and not remove(Path(entry.path)):
                left.append(_set_aside(Path(entry.path)))
    return left


def _sweep_claimed(tmp_root: Path, name: str, remove: Remover) -> list[Path]:
    lock = tmp_root / f"{name}{LOCK_SUFFIX}"
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    except (FileNotFoundError, PermissionError):
        return []
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return []  # its operation is still running
            raise
        if not _still_linked(fd, lock):
            return []
        folder = tmp_root / name
        left = []
        if os.path.lexists(folder) and not remove(folder):
            left.append(_set_aside(folder))
        lock.unlink()  # after the dir: a dir never outlives its lock file unless set aside
        return left
    finally:
        os.close(fd)


def _set_aside(path: Path) -> Path:
    """Rename an unremovable leftover stale-*, so the cheap pass stops retrying it."""
    if path.name.startswith(STALE_PREFIX):
        return path
    target = path.with_name(f"{STALE_PREFIX}{path.name}")
    try:
        os.replace(path, target)
    except OSError:
        return path
    return target
