"""A layer from two full trees: what a RUN step changed in a copy ("vfs") rootfs.

Entries are compared by metadata (type, mode, owner, size, mtime_ns, device number,
link target, stored xattrs), as containers/storage's naive differ does: contents are
not read. New and changed entries are written (with their parent directories, so that
a consumer applying the layer gets their metadata right), deleted ones become
whiteouts. A directory removed and recreated shows up as a changed directory plus
whiteouts for what it lost; metadata cannot tell it apart from an edited one.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from rootless_build.layers import xattrs as xa
from rootless_build.layers.fileobj import ByteWriter
from rootless_build.layers.tarwriter import LayerTarWriter
from rootless_build.layers.tree import IdMap, TreeWalk


def write_diff(lower: str | os.PathLike[str], upper_full: str | os.PathLike[str], out: ByteWriter, *,
               source_date_epoch: int | None = None, id_map: IdMap | None = None,
               skip: Callable[[str], bool] | None = None) -> int:
    """Write the layer turning `lower` into `upper_full` to `out`; returns the entry count.

    `skip(arcname)` excludes paths from the comparison in both trees (mount points...).
    """
    writer = LayerTarWriter(out, source_date_epoch=source_date_epoch)
    _Differ(writer, id_map, skip).run(os.fspath(lower), os.fspath(upper_full))
    writer.close()
    return writer.entries


def _listing(path: str | None) -> dict[str, os.DirEntry[str]]:
    if path is None:
        return {}
    with os.scandir(path) as it:
        return {e.name: e for e in it}


class _Frame:
    """A directory of the upper tree being compared; written lazily, when a change
    below it needs its entry."""

    __slots__ = ("arcname", "path", "st", "attrs", "written", "names", "lower", "upper")

    def __init__(self, arcname: str, path: str, st: os.stat_result | None, attrs: dict[str, bytes] | None,
                 written: bool, lower: dict[str, os.DirEntry[str]], upper: dict[str, os.DirEntry[str]]):
        self.arcname = arcname
        self.path = path
        self.st = st
        self.attrs = attrs
        self.written = written
        self.lower = lower
        self.upper = upper
        self.names = iter(sorted(lower.keys() | upper.keys()))


class _Differ:
    def __init__(self, writer: LayerTarWriter, id_map: IdMap | None, skip: Callable[[str], bool] | None):
        self.writer = writer
        self.walk = TreeWalk(writer, "none", id_map, skip)
        self.skip = skip
        self.frames: list[_Frame] = []

    def run(self, lower: str, upper: str) -> None:
        self.frames.append(_Frame("", upper, None, None, True, _listing(lower), _listing(upper)))
        while self.frames:
            frame = self.frames[-1]
            name = next(frame.names, None)
            if name is None:
                self.frames.pop()
                continue
            arcname = f"{frame.arcname}/{name}" if frame.arcname else name
            if self.skip is not None and self.skip(arcname):
                continue
            self.compare(frame, name, arcname)

    def parents(self) -> None:
        for frame in self.frames:
            if not frame.written:
                # only the root frame has no stat, and it counts as written
                assert frame.st is not None and frame.attrs is not None
                self.walk.emit(frame.path, frame.arcname, frame.st, frame.attrs)
                frame.written = True

    def compare(self, frame: _Frame, name: str, arcname: str) -> None:
        old = frame.lower.get(name)
        new = frame.upper.get(name)
        if new is None:
            self.parents()
            self.writer.add_whiteout(arcname)
            return
        new_st = new.stat(follow_symlinks=False)
        new_attrs = xa.list_all(new.path)
        old_st = old.stat(follow_symlinks=False) if old is not None else None
        if old is not None and old_st is not None and stat.S_ISDIR(old_st.st_mode) and stat.S_ISDIR(new_st.st_mode):
            changed = _changed(old, old_st, new, new_st, new_attrs)
            if changed:
                self.parents()
                self.walk.emit(new.path, arcname, new_st, new_attrs)
            self.frames.append(_Frame(arcname, new.path, new_st, new_attrs, changed,
                                      _listing(old.path), _listing(new.path)))
            return
        if old is not None and old_st is not None and not _changed(old, old_st, new, new_st, new_attrs):
            return
        self.parents()
        self.walk.emit(new.path, arcname, new_st, new_attrs)
        if stat.S_ISDIR(new_st.st_mode):
            # New directory (or one replacing a file): all of it.
            self.frames.append(_Frame(arcname, new.path, new_st, new_attrs, True, {}, _listing(new.path)))


def _changed(old: os.DirEntry[str], old_st: os.stat_result, new: os.DirEntry[str], new_st: os.stat_result,
             new_attrs: dict[str, bytes]) -> bool:
    if (old_st.st_mode != new_st.st_mode or old_st.st_uid != new_st.st_uid or old_st.st_gid != new_st.st_gid
            or old_st.st_mtime_ns != new_st.st_mtime_ns):
        return True
    kind = stat.S_IFMT(new_st.st_mode)
    if kind == stat.S_IFREG and old_st.st_size != new_st.st_size:
        return True
    if kind in (stat.S_IFCHR, stat.S_IFBLK) and old_st.st_rdev != new_st.st_rdev:
        return True
    if kind == stat.S_IFLNK and os.readlink(old.path) != os.readlink(new.path):
        return True
    return xa.stored(xa.list_all(old.path)) != xa.stored(new_attrs)

