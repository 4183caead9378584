"""An image's merged filesystem as tar entries: `-o type=tar`, `--squash-all`, and (through
`changed_since`) the one layer `--squash` makes of a stage's new layers.

Read from the layer tars through ImageFS (no extraction, no privileges), so owners, modes,
times and xattrs are the image's; hard links of one inode are written once and linked.
"""

from __future__ import annotations

from collections.abc import Callable

from rootless_build.builder import fstree
from rootless_build.builder.fstree import BLOCK, CHAR, DIR, FIFO, FILE, SYMLINK, Node
from rootless_build.builder.imagefs import ImageFS
from rootless_build.layers.tarwriter import LayerTarWriter

Wanted = Callable[[str, Node], bool]


def write_tree(tree: ImageFS, tar: LayerTarWriter, wanted: Wanted | None = None) -> None:
    """Every entry of `tree` (parents first, sorted), or those `wanted` accepts."""
    linked: dict[object, str] = {}
    for path, node in fstree.walk(tree, ""):
        if wanted is not None and not wanted(path, node):
            continue
        write_entry(tree, tar, path, node, linked)


def write_entry(tree: ImageFS, tar: LayerTarWriter, path: str, node: Node, linked: dict[object, str]) -> None:
    mode, uid, gid, mtime = node.mode, node.uid, node.gid, node.mtime_ns // 1_000_000_000
    if node.kind == DIR:
        tar.add_dir(path, mode=mode, uid=uid, gid=gid, mtime=mtime, xattrs=node.xattrs)
    elif node.kind == FILE:
        if node.ident is not None and node.ident in linked:
            tar.add_hardlink(path, linked[node.ident], mode=mode, uid=uid, gid=gid, mtime=mtime)
            return
        with tree.open(path, node) as f:
            tar.add_file(path, f, size=node.size, mode=mode, uid=uid, gid=gid, mtime=mtime, xattrs=node.xattrs)
        if node.ident is not None:
            linked[node.ident] = path
    elif node.kind == SYMLINK:
        tar.add_symlink(path, node.linkname, uid=uid, gid=gid, mtime=mtime)
    elif node.kind in (CHAR, BLOCK):
        tar.add_device(path, kind=node.kind, major=node.devmajor, minor=node.devminor, mode=mode, uid=uid,
                       gid=gid, mtime=mtime)
    elif node.kind == FIFO:
        tar.add_fifo(path, mode=mode, uid=uid, gid=gid, mtime=mtime)


def write_changes(base: ImageFS, final: ImageFS, new_layers: set[str], tar: LayerTarWriter) -> None:
    """The difference between two views of one image, `final` being `base` with the
    `new_layers` blobs on top, as one layer: what those layers added or changed, and a
    whiteout for what they removed. A file counts as changed when its bytes come from a
    new layer; other entries when their metadata differs from the base's."""
    linked: dict[object, str] = {}
    for path, node in fstree.walk(final, ""):
        old = base.node(path)
        if old is None or _changed(old, node, new_layers):
            write_entry(final, tar, path, node, linked)
    for path, _node in fstree.walk(base, ""):
        if final.node(path) is None and _is_dir(final, path.rpartition("/")[0]):
            tar.add_whiteout(path)  # (what went with a removed parent goes with its whiteout)


def _is_dir(tree: ImageFS, path: str) -> bool:
    node = tree.node(path)
    return node is not None and node.kind == DIR


def _changed(old: Node, new: Node, new_layers: set[str]) -> bool:
    if new.kind == FILE and isinstance(new.loc, tuple) and new.loc[0] in new_layers:
        return True  # (loc: the blob digest, its compression, the offset)
    return (old.kind, old.mode, old.uid, old.gid, old.mtime_ns, old.linkname, old.xattrs,
            old.devmajor, old.devminor) != (new.kind, new.mode, new.uid, new.gid, new.mtime_ns,
                                            new.linkname, new.xattrs, new.devmajor, new.devminor)
