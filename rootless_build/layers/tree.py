"""Walk a directory (a COPY source, an overlay upper dir) into layer entries.

Order: entries sorted by name at every level, a directory before its contents, depth
first (the order filepath.Walk gives docker). Inodes met twice become hard links to the
first name. Whiteout markers of the given format become OCI whiteouts.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from rootless_build.errors import LayerError
from rootless_build.layers import xattrs as xa
from rootless_build.layers.fileobj import ByteWriter
from rootless_build.layers.paths import clean_arcname
from rootless_build.layers.tarwriter import SMALL_FILE
from rootless_build.layers.whiteouts import CLASSIFIERS, FORMATS, WH_PREFIX, Marker

if TYPE_CHECKING:
    from rootless_build.layers.tarwriter import LayerTarWriter

IdMap = Callable[[int, int], "tuple[int, int]"]


def write_tree(root: str | os.PathLike[str], out: ByteWriter, *, whiteout_format: str = "none",
               id_map: IdMap | None = None, source_date_epoch: int | None = None, prefix: str = "",
               skip: Callable[[str], bool] | None = None) -> int:
    """A whole layer tar of `root` written to `out` (closed with the end-of-archive
    blocks; `out` itself stays open). Returns the number of entries."""
    from rootless_build.layers.tarwriter import LayerTarWriter

    writer = LayerTarWriter(out, source_date_epoch=source_date_epoch)
    add_tree(writer, Path(root), whiteout_format=whiteout_format, id_map=id_map, prefix=prefix, skip=skip)
    writer.close()
    return writer.entries


class _Meta(TypedDict):
    mode: int
    uid: int
    gid: int
    mtime: float


# (path, arcname, lstat, xattrs, whiteout marker) of a directory's child
_Child = tuple[str, str, os.stat_result, dict[str, bytes], Marker]


class TreeWalk:
    def __init__(self, writer: LayerTarWriter, whiteout_format: str, id_map: IdMap | None,
                 skip: Callable[[str], bool] | None):
        if whiteout_format not in FORMATS:
            raise LayerError(f"unknown whiteout format {whiteout_format!r}")
        self.writer = writer
        self.classify = CLASSIFIERS[whiteout_format]
        self.markers = whiteout_format != "none"
        self.id_map = id_map
        self.skip = skip
        self.inodes: dict[tuple[int, int], str] = {}

    def ids(self, st: os.stat_result) -> tuple[int, int]:
        return self.id_map(st.st_uid, st.st_gid) if self.id_map else (st.st_uid, st.st_gid)

    def emit(self, path: str, arcname: str, st: os.stat_result, attrs: dict[str, bytes]) -> None:
        """One non-marker entry; directories' contents are the caller's business."""
        w = self.writer
        uid, gid = self.ids(st)
        mode = stat.S_IMODE(st.st_mode)
        meta = _Meta(mode=mode, uid=uid, gid=gid, mtime=st.st_mtime)
        fmt = stat.S_IFMT(st.st_mode)
        if fmt == stat.S_IFSOCK:
            return  # sockets have no place in an image
        if fmt == stat.S_IFDIR:
            w.add_dir(arcname, xattrs=xa.stored(attrs), **meta)
            return
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            first = self.inodes.get(key)
            if first is not None:
                w.add_hardlink(arcname, first, **meta)
                return
            self.inodes[key] = arcname
        if fmt == stat.S_IFREG:
            stored = xa.stored(attrs) if attrs else None
            if not stored and st.st_size <= SMALL_FILE:
                w.add_small_file(arcname, path, size=st.st_size, **meta)
            else:
                w.add_file(arcname, path, size=st.st_size, xattrs=stored, **meta)
        elif fmt == stat.S_IFLNK:
            w.add_symlink(arcname, os.readlink(path), xattrs=xa.stored(attrs), **meta)
        elif fmt in (stat.S_IFCHR, stat.S_IFBLK):
            w.add_device(arcname, kind="char" if fmt == stat.S_IFCHR else "block",
                         major=os.major(st.st_rdev), minor=os.minor(st.st_rdev), **meta)
        elif fmt == stat.S_IFIFO:
            w.add_fifo(arcname, **meta)

    def walk(self, top: str, top_arc: str, top_opaque: bool) -> None:
        # An explicit stack of sorted listings keeps deep trees off the recursion limit.
        stack = [iter(self.enter(top, top_arc, top_opaque))]
        while stack:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
                continue
            path, arcname, st, attrs, marker = item
            if marker is Marker.WHITEOUT:
                self.writer.add_whiteout(arcname)
            elif marker is Marker.WHITEOUT_FILE:
                parent, _, base = arcname.rpartition("/")
                target = base[len(WH_PREFIX):]
                self.writer.add_whiteout(f"{parent}/{target}" if parent else target)
            else:
                self.emit(path, arcname, st, attrs)
                if stat.S_ISDIR(st.st_mode):
                    stack.append(iter(self.enter(path, arcname, marker is Marker.OPAQUE_DIR)))

    def enter(self, dirpath: str, dir_arc: str, opaque: bool) -> list[_Child]:
        """The sorted children of a directory whose entry was just written; writes the
        directory's opaque marker first when it has one (xattr or `.wh..wh..opq` file)."""
        with os.scandir(dirpath) as it:
            entries = sorted(it, key=lambda e: e.name)
        children: list[_Child] = []
        for entry in entries:
            arcname = f"{dir_arc}/{entry.name}" if dir_arc else entry.name
            if self.skip is not None and self.skip(arcname):
                continue
            st = entry.stat(follow_symlinks=False)
            attrs = xa.list_all(entry.path)
            marker = self.classify(entry.name, st, attrs) if self.markers else Marker.NONE
            if marker is Marker.OPAQUE_FILE:
                opaque = True
                continue
            children.append((entry.path, arcname, st, attrs, marker))
        if opaque:
            self.writer.add_opaque(dir_arc)
        return children


def add_tree(writer: LayerTarWriter, root: Path, *, whiteout_format: str = "none",
             id_map: IdMap | None = None, prefix: str = "", skip: Callable[[str], bool] | None = None) -> None:
    """Entries for everything under `root`, named `prefix/...`.

    With a prefix the root directory itself is written as `prefix/`; without one (an
    overlay upper dir, a rootfs) it is not. `skip(arcname)` may exclude an entry and its
    subtree. `id_map(uid, gid)` translates host ids (a tree read from outside the user
    namespace) to container ids.
    """
    walk = TreeWalk(writer, whiteout_format, id_map, skip)
    top = os.fspath(root)
    top_arc = clean_arcname(prefix)
    st = os.lstat(top)
    if not stat.S_ISDIR(st.st_mode):
        raise LayerError(f"{top} is not a directory")
    opaque = False
    if top_arc:
        attrs = xa.list_all(top)
        walk.emit(top, top_arc, st, attrs)
        opaque = walk.markers and walk.classify(top_arc, st, attrs) is Marker.OPAQUE_DIR
    walk.walk(top, top_arc, opaque)
