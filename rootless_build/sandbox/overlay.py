"""Kernel overlayfs in a user namespace (`userxattr`, Linux >= 5.11).

Lower dirs are given one at a time with the new mount API (`fsconfig lowerdir+`, Linux 6.8),
so no lowerdir list meets the one-page limit of mount(2)'s option string. Older kernels get
mount(2) with short relative symlink names (`0:1:2...`) resolved from a temp dir we chdir to.

A build step's overlay is `volatile` (Linux >= 5.10): without it, unmounting syncs the whole
upper filesystem, which cost 0.5 s after a RUN that wrote 20,000 small files (and seconds on
a throttled disk). The upper dir is the step's scratch: its layer blob is fsynced when kept,
and a crash mid-step redoes the step, as with fuse-overlayfs's fsync=0. Containers' upper
dirs hold the user's data and keep the sync.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rootless_build.errors import SandboxError
from rootless_build.sandbox import libc

NAME = "overlay"
MAX_STRING = 255        # fsconfig copies at most 256 bytes of a string value
MAX_LAYERS = 500        # the kernel's own stack limit (OVL_MAX_STACK)
FALLBACK_HINT = ("fix: use --storage-driver fuse-overlayfs (apt-get install fuse-overlayfs) or vfs "
                 "where the kernel refuses overlay (e.g. in a nested namespace)")


@dataclass
class OverlayMount:
    target: Path
    pid: int | None = None      # no process serves a kernel mount

    def release(self) -> None:
        libc.umount2(self.target, libc.MNT_DETACH)

    def stop(self) -> None:
        """Nothing serves a kernel mount: it goes with its mount namespace."""


def _fs_messages(fd: int) -> str:
    """The kernel's own explanation of a failed fsconfig, when it left one."""
    lines = []
    try:
        os.set_blocking(fd, False)
        while True:
            msg = os.read(fd, 1024)
            if not msg:
                break
            text = msg.decode(errors="replace").strip()
            # Each message starts with its level ("e ", "w ", "i "): not for the user.
            if len(text) > 2 and text[0] in "ewi" and text[1] == " ":
                text = text[2:]
            lines.append(text)
    except OSError:
        pass
    return "; ".join(lines)


class _ShortPaths:
    """Paths under fsconfig's string limit: long ones become /proc/self/fd/N (an O_PATH fd)."""

    def __init__(self) -> None:
        self.fds: list[int] = []

    def __call__(self, path: Path) -> str:
        text = os.fspath(path)
        if len(text.encode()) <= MAX_STRING:
            return text
        fd = os.open(text, os.O_PATH | os.O_CLOEXEC)
        self.fds.append(fd)
        return f"/proc/self/fd/{fd}"

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)


def mount_overlay(lowerdirs: Sequence[Path], upperdir: Path | None, workdir: Path | None,
                  target: Path, *, legacy: bool = False, volatile: bool = False) -> OverlayMount:
    """Mount lowerdirs (top-most first) + upper/work on target; read-only when upperdir is None.
    volatile: no sync of the upper dir (its workdir must be fresh at every mount)."""
    if not lowerdirs:
        raise SandboxError("overlay needs at least one lower directory")
    if len(lowerdirs) > MAX_LAYERS:
        raise SandboxError(f"{len(lowerdirs)} layers: overlayfs stacks at most {MAX_LAYERS}")
    if not legacy:
        try:
            _mount_fsconfig(lowerdirs, upperdir, workdir, target, volatile)
            return OverlayMount(target)
        except _NoLowerdirPlus:
            pass
    _mount_legacy(lowerdirs, upperdir, workdir, target, volatile)
    return OverlayMount(target)


class _NoLowerdirPlus(Exception):
    pass


def _mount_fsconfig(lowerdirs, upperdir, workdir, target, volatile) -> None:
    try:
        fd = libc.fsopen("overlay")
    except OSError as e:
        if e.errno in (errno.ENOSYS, errno.EPERM):
            raise _NoLowerdirPlus() from None
        raise SandboxError(f"overlay: {e.strerror}") from None
    short = _ShortPaths()
    step = "userxattr"
    try:
        libc.fsconfig_flag(fd, "userxattr")
        for i, lower in enumerate(lowerdirs):
            step = f"lowerdir+ {lower}"
            try:
                libc.fsconfig_string(fd, "lowerdir+", short(lower))
            except OSError as e:
                if i == 0 and e.errno == errno.EINVAL and not _fs_messages(fd):
                    raise _NoLowerdirPlus() from None   # a kernel before 6.8
                raise
        if upperdir is not None:
            step = f"upperdir {upperdir}"
            libc.fsconfig_string(fd, "upperdir", short(upperdir))
            step = f"workdir {workdir}"
            libc.fsconfig_string(fd, "workdir", short(workdir))
            if volatile:
                step = "volatile"
                libc.fsconfig_flag(fd, "volatile")
        step = "create"
        libc.fsconfig_create(fd)
        mfd = libc.fsmount(fd)
        try:
            libc.move_mount_fd(mfd, target)
        finally:
            os.close(mfd)
    except OSError as e:
        detail = _fs_messages(fd) or e.strerror
        raise SandboxError(f"kernel overlay mount on {target} failed at {step}: {detail}; {FALLBACK_HINT}") from None
    finally:
        short.close()
        os.close(fd)


def _escape(path: Path) -> str:
    text = os.fspath(path)
    if any(c in text for c in ",:\\"):
        raise SandboxError(f"overlay cannot take a path with ',', ':' or '\\': {text}")
    return text


def _mount_legacy(lowerdirs, upperdir, workdir, target, volatile) -> None:
    links = Path(workdir or target).parent / f".lower-links-{os.getpid()}"
    links.mkdir()
    cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i, lower in enumerate(lowerdirs):
            os.symlink(lower, links / str(i))
        options = ["lowerdir=" + ":".join(str(i) for i in range(len(lowerdirs)))]
        if upperdir is not None:
            options += [f"upperdir={_escape(upperdir)}", f"workdir={_escape(workdir)}"]
            if volatile:
                options.append("volatile")
        options.append("userxattr")
        data = ",".join(options)
        if len(data) >= 4096:
            raise SandboxError(f"overlay options too long ({len(data)} bytes) for mount(2)")
        os.chdir(links)     # relative lowerdir names resolve from here
        libc.mount("overlay", target, "overlay", 0, data)
    except OSError as e:
        raise SandboxError(f"kernel overlay mount on {target} failed: {e.strerror}; {FALLBACK_HINT}") from None
    finally:
        os.fchdir(cwd)
        os.close(cwd)
        for entry in links.iterdir():
            entry.unlink()
        links.rmdir()
