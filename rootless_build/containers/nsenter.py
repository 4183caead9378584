"""Joining a running container's namespaces (setns through ctypes), for `exec`.

Order matters: the user namespace first (it grants the capabilities the others need),
the mount namespace last, then the container's root (the init's /proc/PID/root, opened
before any switch). A pid namespace applies to children only: the caller forks next.
Namespaces the container shares with us (--network host: the net one) are skipped.
Call in a single-threaded process (the kernel refuses a user namespace switch otherwise).
"""

from __future__ import annotations

import os

from rootless_build.sandbox.libc import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    setns,
)

# (name under /proc/PID/ns, flag), in the order they are joined
ORDER = (("user", CLONE_NEWUSER), ("ipc", CLONE_NEWIPC), ("uts", CLONE_NEWUTS),
         ("net", CLONE_NEWNET), ("pid", CLONE_NEWPID), ("mnt", CLONE_NEWNS))


def open_namespaces(pid: int) -> tuple[list[tuple[str, int, int]], int]:
    """([(name, flag, fd)] to join, fd of the container's root directory)."""
    joined = []
    root_fd = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name, flag in ORDER:
            theirs = os.stat(f"/proc/{pid}/ns/{name}")
            ours = os.stat(f"/proc/self/ns/{name}")
            if (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino):
                continue
            joined.append((name, flag, os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC)))
    except BaseException:
        for _, _, fd in joined:
            os.close(fd)
        os.close(root_fd)
        raise
    return joined, root_fd


def enter(pid: int) -> None:
    """Join the namespaces and the root of process `pid`; raises OSError naming the step."""
    joined, root_fd = open_namespaces(pid)
    try:
        for name, flag, fd in joined:
            try:
                setns(fd, flag)
            except OSError as e:
                raise OSError(e.errno, f"joining the container's {name} namespace: {os.strerror(e.errno)}") from None
        os.fchdir(root_fd)
        os.chroot(".")
        os.chdir("/")
    finally:
        for _, _, fd in joined:
            os.close(fd)
        os.close(root_fd)
