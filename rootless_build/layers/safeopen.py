"""Opening paths below a directory fd with no way out, whatever is renamed meanwhile.

A path checked with lstat and then opened by name can be swapped for a symlink in
between (to ~/.ssh/...): the open must then fail, not follow it. `open_beneath` refuses a
symlink at any component: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) on Linux 5.6+,
else one openat(O_NOFOLLOW) per component, each relative to the fd of the one before.
`open_in_root` follows symlinks, but as if the directory were `/` (chroot semantics),
resolving each link from fds too: for the Dockerfile and .dockerignore, which may be links
inside the context.

ctypes (for openat2) costs ~7 ms to import, more than a cached build may spend: it is
used only for paths of several components, which the build context avoids by keeping
its directories' fds.
"""

from __future__ import annotations

import errno
import os

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
_SYS_OPENAT2 = 437  # the same number on every architecture
_MAX_HOPS = 40  # as the kernel's MAXSYMLINKS
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

_openat2_works: bool | None = None  # None: not tried yet


def parts_of(path: str) -> list[str]:
    """Components of a relative path; '..' is refused (nothing here climbs out)."""
    parts = [p for p in path.split("/") if p and p != "."]
    if ".." in parts:
        raise OSError(errno.EXDEV, "path leaves its directory", path)
    return parts


def open_beneath(dir_fd: int, path: str, flags: int = os.O_RDONLY, mode: int = 0o600) -> int:
    """An fd for `path` below `dir_fd`; OSError (ELOOP, ENOTDIR, EXDEV...) if any component
    is a symlink or the path leaves the directory. O_CLOEXEC is always added."""
    parts = parts_of(path)
    flags |= os.O_CLOEXEC
    if not parts:
        return os.open(".", flags & ~os.O_NOFOLLOW, dir_fd=dir_fd)
    if len(parts) == 1:
        return os.open(parts[0], flags | os.O_NOFOLLOW, mode, dir_fd=dir_fd)
    fd = _openat2(dir_fd, "/".join(parts), flags, mode)
    return fd if fd is not None else _walk(dir_fd, parts, flags, mode)


def _walk(dir_fd: int, parts: list[str], flags: int, mode: int) -> int:
    current = dir_fd
    try:
        for part in parts[:-1]:
            following = os.open(part, _DIR_FLAGS, dir_fd=current)
            if current != dir_fd:
                os.close(current)
            current = following
        return os.open(parts[-1], flags | os.O_NOFOLLOW, mode, dir_fd=current)
    finally:
        if current != dir_fd:
            os.close(current)


def _openat2(dir_fd: int, path: str, flags: int, mode: int) -> int | None:
    """openat2 with no symlinks and nothing outside; None where the kernel lacks it."""
    global _openat2_works
    if _openat2_works is False:
        return None
    import ctypes

    class OpenHow(ctypes.Structure):
        _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    how = OpenHow(flags, mode if flags & os.O_CREAT else 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
    fd = libc.syscall(ctypes.c_long(_SYS_OPENAT2), ctypes.c_int(dir_fd), os.fsencode(path),
                      ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    if fd >= 0:
        _openat2_works = True
        return int(fd)
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EPERM, errno.E2BIG, errno.EAGAIN):
        # no openat2 (or a seccomp filter refusing it; EAGAIN: a rename raced): walk instead
        _openat2_works = False if err != errno.EAGAIN else _openat2_works
        return None
    raise OSError(err, os.strerror(err), path)


def open_in_root(dir_fd: int, path: str, flags: int = os.O_RDONLY) -> int:
    """An fd for `path` with symlinks resolved as if `dir_fd` were the root directory:
    '..' stops there and absolute targets start there. Every step goes through an fd."""
    stack = [dir_fd]  # fds of the directories walked into; the first is the caller's
    pending = parts_of_any(path)
    hops = 0
    try:
        while pending:
            part = pending.pop(0)
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            last = not pending
            try:
                fd = os.open(part, (flags if last else _DIR_FLAGS) | os.O_NOFOLLOW | os.O_CLOEXEC,
                             dir_fd=stack[-1])
            except OSError as e:
                if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                try:
                    target = os.readlink(part, dir_fd=stack[-1])
                except OSError:
                    raise e from None  # not a symlink: a file where a directory was wanted
                hops += 1
                if hops > _MAX_HOPS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links", path) from None
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                pending = parts_of_any(target) + pending
                continue
            if last:
                return fd
            stack.append(fd)
        return os.open(".", flags | os.O_CLOEXEC, dir_fd=stack[-1])
    finally:
        for fd in stack[1:]:
            os.close(fd)


def parts_of_any(path: str) -> list[str]:
    """Components, '..' kept (open_in_root handles it)."""
    return [p for p in path.split("/") if p and p != "."]


def read_in_root(dir_fd: int, path: str, limit: int) -> bytes:
    """A small file's bytes (at most `limit`), opened with open_in_root."""
    fd = open_in_root(dir_fd, path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes", path)
    return data


def inside(path: str | os.PathLike[str], roots: tuple[str | os.PathLike[str], ...]) -> str | None:
    """`path` relative to the first of `roots` that holds it lexically (absolute paths, no
    symlink resolved), or None."""
    absolute = os.path.abspath(path)
    for root in roots:
        top = os.path.abspath(root)
        if absolute == top or absolute.startswith(top.rstrip("/") + "/"):
            return os.path.relpath(absolute, top)
    return None
