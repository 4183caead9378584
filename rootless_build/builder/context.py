"""The build context: a directory filtered by .dockerignore, read by COPY and ADD.

It is a fstree.Tree over the real filesystem: ignored paths do not exist, symlinks are
resolved as if the context were the root (a link cannot reach outside), and content
digests come from the stat cache when a file's (size, mtime, ctime, inode) are unchanged.

Every entry is reached through the fd of its directory, opened with no symlink followed
at any component (layers.safeopen), and a file's bytes come from the fd whose fstat
matched what lstat saw: an entry swapped for a symlink to ~/.ssh/... between the check
and the read fails the build instead of reading outside the context.
"""

from __future__ import annotations

import errno
import os
import stat as stat_mod
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO

from rootless_build.builder import fstree
from rootless_build.builder.dockerignore import IgnoreMatcher, find_ignore_file, read_patterns
from rootless_build.builder.fstree import DIR, Node, node_from_stat
from rootless_build.builder.statcache import StatCache
from rootless_build.errors import BuildError, UsageError
from rootless_build.layers import safeopen

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a fifo swapped in must not block
_MAX_DIR_FDS = 128  # directory fds kept open (least recently used closed first)
_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)  # absent, or not a directory of the context
MAX_IGNORE_FILE = 16 << 20


class BuildContext:
    def __init__(self, root: Path, ignore: IgnoreMatcher, hashes: StatCache | None = None,
                 root_fd: int | None = None):
        self.root = root
        self.ignore = ignore
        self.hashes = hashes
        self._stats: dict[str, os.stat_result | None] = {}
        self._root_fd = root_fd if root_fd is not None else os.open(root, _DIR_FLAGS & ~os.O_NOFOLLOW)
        self._dir_fds: OrderedDict[str, int] = OrderedDict()

    @classmethod
    def load(cls, directory: str | Path, dockerfile: Path | None, store=None, *,
             ignorefile: str | None = None) -> BuildContext:
        root = Path(directory).resolve()
        try:
            root_fd = os.open(root, _DIR_FLAGS & ~os.O_NOFOLLOW)
        except OSError:
            raise UsageError(f"build context {directory}: not a directory") from None
        patterns: list[str] = []
        try:
            ignore_file = find_ignore_file(root, dockerfile, ignorefile)
            if ignore_file is not None:
                patterns = read_patterns(_read_ignore_file((Path(directory).absolute(), root), root_fd,
                                                           ignore_file))
        except OSError as e:
            os.close(root_fd)
            raise UsageError(f"cannot read {e.filename or ignore_file}: {e.strerror}") from None
        return cls(root, IgnoreMatcher(patterns), StatCache(store, str(root)), root_fd)

    def host_path(self, path: str) -> str:
        return os.path.join(self.root, path) if path else str(self.root)

    def close(self) -> None:
        for fd in self._dir_fds.values():
            os.close(fd)
        self._dir_fds.clear()
        if self._root_fd >= 0:
            os.close(self._root_fd)
            self._root_fd = -1

    def __del__(self) -> None:
        try:
            self.close()  # the builder closes it; a context dropped elsewhere still frees its fds
        except (OSError, AttributeError):
            pass

    def _dir_fd(self, path: str) -> int:
        """The fd of a directory of the context, reached one component at a time from the
        root, none of them a symlink (OSError otherwise)."""
        if not path:
            return self._root_fd
        fd = self._dir_fds.get(path)
        if fd is not None:
            self._dir_fds.move_to_end(path)
            return fd
        clean = _clean(path)  # "dir/" (a glob's base) is "dir"
        if clean != path:
            return self._dir_fd(clean)
        parent, _, name = path.rpartition("/")
        fd = os.open(name, _DIR_FLAGS, dir_fd=self._dir_fd(parent))
        self._dir_fds[path] = fd
        if len(self._dir_fds) > _MAX_DIR_FDS:
            os.close(self._dir_fds.popitem(last=False)[1])
        return fd

    def _parent_fd(self, path: str) -> tuple[int, str]:
        parent, _, name = _clean(path).rpartition("/")
        return self._dir_fd(parent), name

    def lstat(self, path: str) -> os.stat_result | None:
        """An entry's stat, or None when it is absent or ignored. An ignored directory
        still exists when Docker's walk enters it (an exception's text starts with its
        path: `!d/keep` for `d`), as it does in the context Docker sends."""
        if path in self._stats:
            return self._stats[path]
        try:
            if path:
                parent_fd, name = self._parent_fd(path)
                st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
            else:
                st = os.fstat(self._root_fd)
        except OSError as e:
            if e.errno not in _GONE:
                raise UsageError(f"cannot read {path} in the build context: {e.strerror}") from None
            st = None
        if st is not None and path and self.ignore and self.ignore.excluded(path):
            if not (stat_mod.S_ISDIR(st.st_mode) and self._includes_something(path)):
                st = None
        self._stats[path] = st
        return st

    def _includes_something(self, directory: str) -> bool:
        """Whether Docker's walk enters this ignored directory (dockerignore.walks_into):
        it is then in the context, as BuildKit sends it, whatever is re-included inside."""
        return self.ignore.walks_into(directory)

    # -- fstree.Tree -------------------------------------------------------------------

    def node(self, path: str) -> Node | None:
        st = self.lstat(path)
        return None if st is None else node_from_stat(st, loc=st)

    def listdir(self, path: str) -> list[str]:
        names = []
        try:
            # entries are used inside the loop: scandir(fd) stats them through its own fd
            # (a dup closed with the iterator)
            with os.scandir(self._dir_fd(path)) as entries:
                for entry in entries:
                    rel = fstree.join(path, entry.name)
                    if rel not in self._stats:
                        if self.ignore and self.ignore.excluded(rel):
                            keep = entry.is_dir(follow_symlinks=False) and self._includes_something(rel)
                            self._stats[rel] = entry.stat(follow_symlinks=False) if keep else None
                        else:
                            self._stats[rel] = entry.stat(follow_symlinks=False)
                    if self._stats[rel] is not None:
                        names.append(entry.name)
        except OSError as e:
            if e.errno == errno.ENOENT:
                return []
            if e.errno in _GONE:
                raise self._changed(path, e) from None
            raise UsageError(f"cannot read {self.host_path(path)} in the build context: "
                             f"{e.strerror}") from None
        return sorted(names)

    def readlink(self, path: str, node: Node) -> str:
        try:
            parent_fd, name = self._parent_fd(path)
            return os.readlink(name, dir_fd=parent_fd)
        except OSError as e:
            raise self._changed(path, e) from None

    def open(self, path: str, node: Node) -> BinaryIO:
        """The file's bytes, from the fd that is the entry lstat saw (same inode, a regular file)."""
        try:
            parent_fd, name = self._parent_fd(path)
            fd = os.open(name, _FILE_FLAGS, dir_fd=parent_fd)
        except PermissionError as e:
            raise UsageError(f"cannot read {path} in the build context: {e.strerror}") from None
        except OSError as e:
            raise self._changed(path, e) from None
        st = os.fstat(fd)
        seen = node.loc if isinstance(node.loc, os.stat_result) else None
        if not stat_mod.S_ISREG(st.st_mode) or (
                seen is not None and (st.st_dev, st.st_ino) != (seen.st_dev, seen.st_ino)):
            os.close(fd)
            raise BuildError(f"{path} in the build context changed during the build")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")

    @staticmethod
    def _changed(path: str, e: OSError) -> BuildError:
        if e.errno in (errno.ELOOP, errno.ENOTDIR, errno.EINVAL):  # EINVAL: readlink of a non-link
            return BuildError(f"{path} in the build context changed during the build "
                              "(a component became a symlink or a file, or a link a file)")
        return BuildError(f"cannot read {path} in the build context: {e.strerror}")

    def known_digest(self, path: str, node: Node) -> str | None:
        if self.hashes is None:
            return None
        return self.hashes.lookup(path, node.loc)

    def seen_before(self, path: str) -> bool:
        return self.hashes is not None and self.hashes.seen(path)

    def remember_digest(self, path: str, node: Node, digest: str) -> None:
        if self.hashes is not None:
            self.hashes.remember(path, node.loc, digest)

    def save(self) -> None:
        if self.hashes is not None:
            self.hashes.save()


def _clean(path: str) -> str:
    parts = fstree.split_clean(path)
    if ".." in parts:  # callers resolve '..' inside the context; here it could only climb out
        raise OSError(errno.ENOENT, "'..' in a context path", path)
    return "/".join(parts)


def _read_ignore_file(roots: tuple[Path, Path], root_fd: int, ignore_file: Path) -> str:
    """The .dockerignore's text; inside the context (as given, or resolved) it is read
    through the context's fd (a link in it resolved inside the context), as every other
    context file; beside a Dockerfile outside the context, by its path."""
    inside = safeopen.inside(ignore_file, roots)
    if inside is None:
        return ignore_file.read_text(errors="surrogateescape")
    return safeopen.read_in_root(root_fd, inside, MAX_IGNORE_FILE).decode(errors="surrogateescape")


def is_dir(tree, path: str) -> bool:
    node = tree.node(path)
    return node is not None and node.kind == DIR
