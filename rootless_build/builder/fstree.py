"""A read-only file tree that COPY reads from: the build context or an image's layers.

Both answer the same few questions (an entry's metadata, a directory's children, a
file's bytes, a known content digest), so COPY, globbing and symlink resolution are
written once. Paths are relative, slash-separated, without a leading '/'; '' is the root.
"""

from __future__ import annotations

import os
import stat as stat_mod
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from rootless_build.errors import BuildError, LayerError
from rootless_build.layers.paths import resolve_links
from rootless_build.layers.paths import split_clean as split_clean  # context.py uses fstree.split_clean

FILE, DIR, SYMLINK, CHAR, BLOCK, FIFO = "file", "dir", "symlink", "char", "block", "fifo"


class Node:
    """An entry's metadata. A plain class with slots, not a Record: an image's tree makes
    one per tar entry (tens of thousands), and this __init__ is ~6x faster than a generic one."""

    __slots__ = ("kind", "mode", "uid", "gid", "mtime_ns", "size", "linkname", "ident", "xattrs",
                 "devmajor", "devminor", "loc")

    def __init__(self, kind: str, mode: int, uid: int = 0, gid: int = 0, mtime_ns: int = 0, size: int = 0,
                 linkname: str = "", ident: object = None, xattrs: dict[str, bytes] | None = None,
                 devmajor: int = 0, devminor: int = 0, loc: object = None) -> None:
        self.kind = kind
        self.mode = mode  # permission bits (07777)
        self.uid = uid
        self.gid = gid
        self.mtime_ns = mtime_ns
        self.size = size
        self.linkname = linkname
        self.ident = ident  # equal for hardlinks of one inode
        self.xattrs = xattrs
        self.devmajor = devmajor
        self.devminor = devminor
        self.loc = loc  # where the bytes are (tree specific)

    def __repr__(self) -> str:
        return f"Node({self.kind}, {self.mode:o}, {self.uid}:{self.gid}, size={self.size})"


def node_from_stat(st, loc=None) -> Node | None:
    """A Node for an os.lstat result (None for sockets, which images cannot hold)."""
    fmt = stat_mod.S_IFMT(st.st_mode)
    kind = {stat_mod.S_IFREG: FILE, stat_mod.S_IFDIR: DIR, stat_mod.S_IFLNK: SYMLINK,
            stat_mod.S_IFCHR: CHAR, stat_mod.S_IFBLK: BLOCK, stat_mod.S_IFIFO: FIFO}.get(fmt)
    if kind is None:
        return None
    ident = (st.st_dev, st.st_ino) if kind == FILE and st.st_nlink > 1 else None
    major = minor = 0
    if kind in (CHAR, BLOCK):
        major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    return Node(kind, stat_mod.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns,
                st.st_size if kind == FILE else 0, ident=ident, devmajor=major, devminor=minor, loc=loc)


class Tree(Protocol):
    def node(self, path: str) -> Node | None: ...

    def listdir(self, path: str) -> list[str]: ...

    def open(self, path: str, node: Node) -> BinaryIO: ...

    def known_digest(self, path: str, node: Node) -> str | None: ...

    def remember_digest(self, path: str, node: Node, digest: str) -> None: ...

    def readlink(self, path: str, node: Node) -> str: ...


def join(base: str, name: str) -> str:
    return f"{base}/{name}" if base else name


def resolve(tree: Tree, path: str, *, follow_last: bool = True) -> str:
    """The path with symlinks resolved inside the tree, as if it were chrooted ('..' stops
    at the root, absolute targets start from it). Missing components are kept as given."""
    def link_target(candidate: str) -> str | None:
        node = tree.node(candidate)
        return tree.readlink(candidate, node) if node is not None and node.kind == SYMLINK else None

    try:
        return resolve_links(link_target, path, follow_last=follow_last)
    except LayerError as e:
        raise BuildError(str(e)) from None


def walk(tree: Tree, top: str) -> Iterator[tuple[str, Node]]:
    """Every entry under `top` (not `top` itself), parents before children, sorted."""
    for name in tree.listdir(top):
        path = join(top, name)
        node = tree.node(path)
        if node is None:
            continue
        yield path, node
        if node.kind == DIR:
            yield from walk(tree, path)
