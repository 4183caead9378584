"""Small filesystem operations extraction needs, with rootless-friendly error handling."""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Callable

from rootless_build.errors import LayerError
from rootless_build.layers import xattrs as xa


def write_all(fd: int, view: memoryview) -> None:
    while view:
        written = os.write(fd, view)
        view = view[written:]


def remove(path: str, unlock_parent: Callable[[str], None]) -> bool:
    """Remove whatever is at `path` (a whole tree for a directory); False if nothing was.

    Unwritable directories (0555 in an image) are made writable first: as their owner we
    may, and an unprivileged extraction could not replace them otherwise.
    `unlock_parent(path)` is called if the parent directory refuses the removal.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    for attempt in (1, 2):
        try:
            if stat.S_ISDIR(st.st_mode):
                _rmtree(path)
            else:
                os.unlink(path)
            return True
        except PermissionError:
            if attempt == 2:
                raise
            unlock_parent(path)
    return True


def _rmtree(top: str) -> None:
    try:
        shutil.rmtree(top)
        return
    except PermissionError:
        pass
    stack = [top]
    while stack:
        path = stack.pop()
        os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) | stat.S_IRWXU)
        with os.scandir(path) as it:
            stack.extend(e.path for e in it if e.is_dir(follow_symlinks=False))
    shutil.rmtree(top)


def chown(path_or_fd: str | int, uid: int, gid: int, where: str) -> None:
    try:
        if isinstance(path_or_fd, int):
            os.fchown(path_or_fd, uid, gid)
        else:
            os.lchown(path_or_fd, uid, gid)
    except OSError as e:
        if e.errno == errno.EINVAL:
            raise LayerError(f"cannot chown {where} to {uid}:{gid}: the id is not mapped in this user namespace "
                             "(potentially insufficient UIDs or GIDs available in user namespace)") from e
        if e.errno == errno.EPERM:
            raise LayerError(f"cannot chown {where} to {uid}:{gid}: operation not permitted "
                             "(extract inside the user namespace, or without chown)") from e
        raise


def set_xattrs(path_or_fd: str | int, values: dict[str, bytes], where: str,
               warn: Callable[[str], None], *, is_symlink: bool = False) -> None:
    """Apply a layer's attributes; overlay markers are never applied (see xattrs.is_marker)."""
    for name, value in values.items():
        if xa.is_marker(name):
            continue
        try:
            if isinstance(path_or_fd, int):
                os.setxattr(path_or_fd, name, value)
            else:
                os.setxattr(path_or_fd, name, value, follow_symlinks=False)
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EACCES, errno.EOPNOTSUPP):
                raise
            if xa.may_be_lost(name) or is_symlink:
                warn(f"extended attribute {name} of {where} not applied: {e.strerror}")
                continue
            raise LayerError(f"cannot set extended attribute {name} on {where}: {e.strerror}") from e


def set_times(path_or_fd: str | int, mtime: int) -> None:
    ns = mtime * 1_000_000_000
    if isinstance(path_or_fd, int):
        os.utime(path_or_fd, ns=(ns, ns))
    else:
        os.utime(path_or_fd, ns=(ns, ns), follow_symlinks=False)


def link_or_copy(source: str, path: str, chown: Callable[[str, int, int], None] | None) -> None:
    """Hard-link `source` at `path`; across filesystems (or refused), copy it with its metadata."""
    try:
        os.link(source, path, follow_symlinks=False)
        return
    except PermissionError:
        raise  # the caller may unlock the parent directory and retry
    except OSError:
        pass
    st = os.lstat(source)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(source), path)
    else:
        shutil.copyfile(source, path, follow_symlinks=False)
    if chown is not None:
        chown(path, st.st_uid, st.st_gid)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(path, stat.S_IMODE(st.st_mode))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)



def copy_tree(source: str | os.PathLike[str], dest: str | os.PathLike[str]) -> None:
    """Copy the contents of directory `source` into directory `dest` as they are: owners,
    modes, xattrs, hard links and times kept, shared extents where the filesystem has them
    (`cp -a --reflink=auto`: one process, faster than any walk of ours)."""
    import subprocess  # lazily: only a vfs step or a flat tree copies

    done = subprocess.run(["cp", "-a", "--reflink=auto", "--", f"{os.fspath(source)}/.", f"{os.fspath(dest)}/"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise LayerError(f"copying {os.fspath(source)}: {detail}")
