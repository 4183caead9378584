"""The build context: a directory filtered by .dockerignore, read by COPY and ADD.

It is a fstree.Tree over the real filesystem: ignored paths do not exist, symlinks are
resolved as if the context were the root (a link cannot reach outside), and content
digests come from the stat cache when a file's (size, mtime, ctime, inode) are unchanged.
"""

from __future__ import annotations

import os
import stat as stat_mod
from pathlib import Path
from typing import BinaryIO

from rootless_build.build import fstree
from rootless_build.build.dockerignore import IgnoreMatcher, find_ignore_file, read_patterns
from rootless_build.build.fstree import DIR, Node, node_from_stat
from rootless_build.build.statcache import StatCache
from rootless_build.errors import UsageError


class BuildContext:
    def __init__(self, root: Path, ignore: IgnoreMatcher, hashes: StatCache | None = None):
        self.root = root
        self.ignore = ignore
        self.hashes = hashes
        self._stats: dict[str, os.stat_result | None] = {}

    @classmethod
    def load(cls, directory: str | Path, dockerfile: Path | None, store=None) -> BuildContext:
        root = Path(directory).resolve()
        if not root.is_dir():
            raise UsageError(f"build context {directory}: not a directory")
        patterns: list[str] = []
        ignore_file = find_ignore_file(root, dockerfile)
        if ignore_file is not None:
            try:
                patterns = read_patterns(ignore_file.read_text(errors="surrogateescape"))
            except OSError as e:
                raise UsageError(f"cannot read {ignore_file}: {e.strerror}") from None
        return cls(root, IgnoreMatcher(patterns), StatCache(store, str(root)))

    def host_path(self, path: str) -> str:
        return os.path.join(self.root, path) if path else str(self.root)

    def lstat(self, path: str) -> os.stat_result | None:
        """An entry's stat, or None when it is absent or ignored. An ignored directory
        still exists when Docker's walk enters it (an exception's text starts with its
        path: `!d/keep` for `d`), as it does in the context Docker sends."""
        if path in self._stats:
            return self._stats[path]
        try:
            st = os.lstat(self.host_path(path))
        except (FileNotFoundError, NotADirectoryError):
            st = None
        if st is not None and path and self.ignore and self.ignore.excluded(path):
            if not (stat_mod.S_ISDIR(st.st_mode) and self.ignore.walks_into(path)):
                st = None
        self._stats[path] = st
        return st

    # -- fstree.Tree -------------------------------------------------------------------

    def node(self, path: str) -> Node | None:
        st = self.lstat(path)
        return None if st is None else node_from_stat(st, loc=st)

    def listdir(self, path: str) -> list[str]:
        try:
            entries = list(os.scandir(self.host_path(path)))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except PermissionError as e:
            raise UsageError(f"cannot read {self.host_path(path)} in the build context: "
                             f"{e.strerror}") from None
        names = []
        for entry in entries:
            rel = fstree.join(path, entry.name)
            if rel not in self._stats:
                if self.ignore and self.ignore.excluded(rel):
                    keep = entry.is_dir(follow_symlinks=False) and self.ignore.walks_into(rel)
                    self._stats[rel] = entry.stat(follow_symlinks=False) if keep else None
                else:
                    self._stats[rel] = entry.stat(follow_symlinks=False)
            if self._stats[rel] is not None:
                names.append(entry.name)
        return sorted(names)

    def readlink(self, path: str, node: Node) -> str:
        return os.readlink(self.host_path(path))

    def open(self, path: str, node: Node) -> BinaryIO:
        try:
            return open(self.host_path(path), "rb")
        except PermissionError as e:
            raise UsageError(f"cannot read {path} in the build context: {e.strerror}") from None

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


def is_dir(tree, path: str) -> bool:
    node = tree.node(path)
    return node is not None and node.kind == DIR
