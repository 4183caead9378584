"""Safe, streaming extraction of a layer tar.

mode="apply": onto a rootfs; whiteouts delete lower entries, opaque markers empty a
directory of what earlier layers put there (never of this layer's own entries).
mode="overlay": into a fresh per-layer directory used as an overlay lower dir; whiteouts
become 0/0 character devices and opaque directories get user.overlay.opaque=y.
mode="archive": a plain archive (`cp` into a container, as docker cp): `.wh.` names are
ordinary files, never deletions.

Nothing is ever written outside the target: absolute names and `..` are refused, parent
symlinks are resolved with chroot semantics (resolve.Root), final components are
replaced rather than followed, hard links must name an entry inside the tree, and
device nodes are refused (or skipped with one warning).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rootless_build.errors import LayerError
from rootless_build.layers import fsops
from rootless_build.layers import xattrs as xa
from rootless_build.layers.compression import open_uncompressed
from rootless_build.layers.paths import safe_member_parts
from rootless_build.layers.resolve import Root, join
from rootless_build.layers.tarreader import EntryContent, TarEntry, read_entries
from rootless_build.layers.tarstream import ForwardReader, HashingReader
from rootless_build.layers.whiteouts import (
    WH_META_PREFIX,
    WH_OPAQUE,
    make_overlay_whiteout,
    mark_overlay_opaque,
    oci_whiteout_target,
)

_T = TypeVar("_T")
_COPY_SIZE = 1 << 20
_MODES = ("apply", "overlay", "archive")


@dataclass
class ExtractStats:
    entries: int = 0
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    hardlinks: int = 0
    fifos: int = 0
    whiteouts: int = 0
    opaques: int = 0
    bytes: int = 0
    devices_skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    diff_id: str = ""  # sha256 of the uncompressed stream, when asked for


def extract_layer(fileobj: Any, target: str | os.PathLike[str], *, mode: str = "apply", chown: bool = False,
                  skip_devices: bool = False, on_warning: Callable[[str], None] | None = None,
                  lower_dirs: Sequence[str | os.PathLike[str]] = (), compute_diff_id: bool = False) -> ExtractStats:
    """Extract a (plain, gzip or zstd) layer tar read from `fileobj` into `target`.

    `lower_dirs` (overlay mode, topmost first) are the layers below: implicit parent
    directories copy their metadata from there, and hard links to files that live there
    are linked (or copied) into this layer. `compute_diff_id` hashes the uncompressed
    stream on the way (stats.diff_id). Raises LayerError naming the offending entry.
    """
    if mode not in _MODES:
        raise LayerError(f"unknown extraction mode {mode!r}")
    extractor = _Extractor(Path(target), mode, chown, skip_devices, on_warning, lower_dirs)
    stream = open_uncompressed(fileobj)
    hashing = HashingReader(stream) if compute_diff_id else None
    source = ForwardReader(hashing or stream)
    try:
        # headers validated by the one tar reader; a buffered reader serves them and content
        for member, content in read_entries(source, "malformed layer tar"):
            extractor.entry(member, content)
        extractor.finish()
        if hashing is not None:
            extractor.stats.diff_id = hashing.drain()
    finally:
        stream.close()
    return extractor.stats


class _Extractor:
    def __init__(self, target: Path, mode: str, chown: bool, skip_devices: bool,
                 on_warning: Callable[[str], None] | None, lower_dirs: Sequence[str | os.PathLike[str]]):
        if not target.is_dir():
            raise LayerError(f"extraction target {target} is not a directory")
        self.lowers = [Root(p) for p in lower_dirs]
        self.root = Root(target, self.lowers if mode == "overlay" else None)
        self.mode = mode
        self.chown = chown
        self.skip_devices = skip_devices
        self.on_warning = on_warning
        self.stats = ExtractStats()
        self.created: set[str] = set()  # resolved paths this layer wrote
        self.dir_meta: dict[str, tuple[int, int | None]] = {}  # final (mode, mtime) of dirs, applied last
        self.unlocked: dict[str, int] = {}  # dirs we made writable, with their original mode
        self._buffer = memoryview(bytearray(_COPY_SIZE))
        if mode == "overlay":
            self.root.on_not_dir = self._whiteout_in_the_way

    def warn(self, message: str) -> None:
        self.stats.warnings.append(message)
        if self.on_warning is not None:
            self.on_warning(message)

    # -- dispatch ------------------------------------------------------------------

    def entry(self, m: TarEntry, content: EntryContent) -> None:
        self.stats.entries += 1
        try:
            self._entry(m, content)
        except LayerError as e:
            raise LayerError(f"layer entry {m.name!r}: {e}") from None
        except OSError as e:
            where = f" ({e.filename})" if e.filename else ""
            raise LayerError(f"layer entry {m.name!r}: {e.strerror or e}{where}") from e

    def _entry(self, m: TarEntry, content: EntryContent) -> None:
        parts = safe_member_parts(m.name)
        if m.ischr() or m.isblk():
            return self._device(m)
        if not parts:
            return self._root_entry(m)
        base = parts[-1]
        if self.mode != "archive":
            if base == WH_OPAQUE:
                return self._opaque(parts[:-1])
            if base.startswith(WH_META_PREFIX):
                return  # aufs bookkeeping (.wh..wh.plnk, ...), never content
            gone = oci_whiteout_target(base)
            if gone is not None:
                return self._whiteout(parts[:-1], gone)
        if m.islnk():
            return self._hardlink(parts, m)
        parent = self.root.resolve_dir(parts[:-1], self._implicit_dir)
        rel = join(parent, base)
        if m.isdir():
            self._dir(rel, m)
        elif m.isreg():
            self._file(rel, m, content)
        elif m.issym():
            self._symlink(rel, m)
        elif m.isfifo():
            self._fifo(rel, m)
        else:
            self.warn(f"skipped layer entry {m.name!r} of unsupported type {m.type!r}")
            return
        self.created.add(rel)

    # -- helpers -------------------------------------------------------------------

    def _unlock_parent(self, path: str) -> None:
        """Make the parent of `path` writable (an unprivileged owner may), restoring later."""
        parent = os.path.dirname(path)
        mode = stat.S_IMODE(os.lstat(parent).st_mode)
        os.chmod(parent, mode | stat.S_IRWXU)
        rel = os.path.relpath(parent, self.root.path)
        rel = "" if rel == "." else rel
        if rel not in self.dir_meta:
            self.unlocked.setdefault(rel, mode)

    def _create(self, make: Callable[[], _T], path: str) -> _T:
        try:
            return make()
        except PermissionError:
            self._unlock_parent(path)
            return make()

    def _remove(self, rel: str) -> None:
        path = self.root.abs(rel)
        was_dir = os.path.isdir(path) and not os.path.islink(path)
        fsops.remove(path, self._unlock_parent)
        self.root.invalidate()
        if was_dir:
            prefix = rel + "/"
            for pending in (self.dir_meta, self.unlocked):
                for key in [k for k in pending if k == rel or k.startswith(prefix)]:
                    del pending[key]

    def _make_room(self, rel: str, is_dir: bool) -> bool:
        """Clear the way for a new entry; True if an existing directory is kept (dir over dir)."""
        try:
            st = os.lstat(self.root.abs(rel))
        except FileNotFoundError:
            return False
        if is_dir and stat.S_ISDIR(st.st_mode):
            return True
        self._remove(rel)
        return False

    def _owner(self, path_or_fd: str | int, uid: int, gid: int, rel: str) -> None:
        if self.chown:
            fsops.chown(path_or_fd, uid, gid, rel or "/")

    def _mkdir(self, rel: str, mode: int, uid: int, gid: int, mtime: int | None,
               attrs: dict[str, bytes]) -> None:
        path = self.root.abs(rel)
        # Owner-writable until finish(): a 0555 directory's children must still be written.
        self._create(lambda: os.mkdir(path, 0o700), path)
        self._owner(path, uid, gid, rel)
        fsops.set_xattrs(path, attrs, rel, self.warn)
        self.dir_meta[rel] = (mode, mtime)

    def _implicit_dir(self, rel: str) -> None:
        """A parent the tar did not list: 0755 root-owned, or (overlay) as in the layers below,
        since an overlay upper directory's metadata hides the lower one's."""
        mode, uid, gid, mtime = 0o755, 0, 0, None
        for lower in self.lowers:
            found = lower.lookup(rel.split("/"))
            if found is not None:
                st = os.lstat(lower.abs(found))
                if stat.S_ISDIR(st.st_mode):
                    mode, uid, gid, mtime = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)
                break
        self._mkdir(rel, mode, uid, gid, mtime, {})
        self.created.add(rel)

    def _whiteout_in_the_way(self, rel: str, st: os.stat_result) -> bool:
        """Overlay mode: `.wh.d` then `d/x` in one layer means a new, opaque `d`."""
        if not (stat.S_ISCHR(st.st_mode) and st.st_rdev == 0):
            return False
        self._remove(rel)
        self._implicit_dir(rel)
        mark_overlay_opaque(self.root.abs(rel))
        return True

    # -- entry kinds ---------------------------------------------------------------

    def _root_entry(self, m: TarEntry) -> None:
        if not m.isdir():
            raise LayerError("the root of a layer must be a directory")
        self._owner(self.root.path, m.uid, m.gid, "")
        fsops.set_xattrs(self.root.path, xa.from_pax(m.pax_headers), "/", self.warn)
        self.dir_meta[""] = (m.mode, int(m.mtime))

    def _dir(self, rel: str, m: TarEntry) -> None:
        attrs = xa.from_pax(m.pax_headers)
        if self._make_room(rel, is_dir=True):
            path = self.root.abs(rel)
            current = stat.S_IMODE(os.lstat(path).st_mode)
            if current & stat.S_IRWXU != stat.S_IRWXU:
                os.chmod(path, current | stat.S_IRWXU)
            self._owner(path, m.uid, m.gid, rel)
            fsops.set_xattrs(path, attrs, rel, self.warn)
            self.dir_meta[rel] = (m.mode, int(m.mtime))
        else:
            self._mkdir(rel, m.mode, m.uid, m.gid, int(m.mtime), attrs)
        self.stats.dirs += 1

    def _file(self, rel: str, m: TarEntry, src: EntryContent) -> None:
        self._make_room(rel, is_dir=False)
        path = self.root.abs(rel)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = self._create(lambda: os.open(path, flags, 0o600), path)
        try:
            if m.sparse is None:
                self._copy(fd, src, m.size)
            else:
                for offset, size in m.sparse:  # holes stay holes: seek over them
                    os.lseek(fd, offset, os.SEEK_SET)
                    self._copy(fd, src, size)
                os.ftruncate(fd, m.size)
            # chown first (it clears capabilities), xattrs before chmod (a 0444 file refuses
            # user.* attributes even to its owner), times last.
            self._owner(fd, m.uid, m.gid, rel)
            fsops.set_xattrs(fd, xa.from_pax(m.pax_headers), rel, self.warn)
            os.fchmod(fd, m.mode & 0o7777)
            fsops.set_times(fd, int(m.mtime))
        finally:
            os.close(fd)
        self.stats.files += 1
        self.stats.bytes += m.size

    def _copy(self, fd: int, src: EntryContent, size: int) -> None:
        view = self._buffer
        while size:
            got = src.readinto(view[:min(size, _COPY_SIZE)])
            fsops.write_all(fd, view[:got])
            size -= got

    def _symlink(self, rel: str, m: TarEntry) -> None:
        self._make_room(rel, is_dir=False)
        path = self.root.abs(rel)
        self._create(lambda: os.symlink(m.linkname, path), path)
        self._owner(path, m.uid, m.gid, rel)
        fsops.set_xattrs(path, xa.from_pax(m.pax_headers), rel, self.warn, is_symlink=True)
        fsops.set_times(path, int(m.mtime))
        self.stats.symlinks += 1

    def _fifo(self, rel: str, m: TarEntry) -> None:
        self._make_room(rel, is_dir=False)
        path = self.root.abs(rel)
        self._create(lambda: os.mkfifo(path, 0o600), path)
        self._owner(path, m.uid, m.gid, rel)
        os.chmod(path, m.mode & 0o7777)
        fsops.set_times(path, int(m.mtime))
        self.stats.fifos += 1

    def _hardlink(self, parts: list[str], m: TarEntry) -> None:
        try:
            link_parts = safe_member_parts(m.linkname)
        except LayerError as e:
            raise LayerError(f"hard link target {m.linkname!r}: {e}") from None
        if not link_parts:
            raise LayerError("hard link to the root directory")
        source = self.root.lookup(link_parts)
        source_root = self.root
        if source is None:
            for lower in self.lowers:
                source = lower.lookup(link_parts)
                if source is not None:
                    source_root = lower
                    break
        if source is None:
            raise LayerError(f"hard link to {m.linkname!r}, which is neither in this layer nor below it")
        source_path = source_root.abs(source)
        if stat.S_ISDIR(os.lstat(source_path).st_mode):
            raise LayerError(f"hard link to directory {m.linkname!r}")
        parent = self.root.resolve_dir(parts[:-1], self._implicit_dir)
        rel = join(parent, parts[-1])
        if source_root is self.root and (rel == source or source.startswith(rel + "/")):
            return  # a link to itself (or into what it would replace): nothing sensible to do
        self._make_room(rel, is_dir=False)
        path = self.root.abs(rel)
        if source_root is self.root:
            self._create(lambda: os.link(source_path, path, follow_symlinks=False), path)
        else:
            # A file of a lower layer: share its inode (layers are immutable), else copy it.
            owner = (lambda p, uid, gid: self._owner(p, uid, gid, rel)) if self.chown else None
            self._create(lambda: fsops.link_or_copy(source_path, path, owner), path)
        self.created.add(rel)
        self.stats.hardlinks += 1

    def _device(self, m: TarEntry) -> None:
        kind = "character" if m.ischr() else "block"
        if not self.skip_devices:
            raise LayerError(f"{kind} device {m.devmajor}:{m.devminor} refused: device nodes cannot be "
                             "created without privileges")
        if not self.stats.devices_skipped:
            self.warn(f"skipping device nodes in the layer (first: {m.name!r}, {kind} "
                      f"{m.devmajor}:{m.devminor}): they cannot be created without privileges")
        self.stats.devices_skipped += 1

    def _whiteout(self, parent_parts: list[str], name: str) -> None:
        self.stats.whiteouts += 1
        if self.mode == "apply":
            parent = self.root.resolve_dir(parent_parts, None)
            if parent is None:
                return
            rel = join(parent, name)
            if rel not in self.created and os.path.lexists(self.root.abs(rel)):
                self._remove(rel)
            return
        parent = self.root.resolve_dir(parent_parts, self._implicit_dir)
        rel = join(parent, name)
        if rel in self.created:
            return  # whiteouts hide lower entries only, never this layer's own
        path = self.root.abs(rel)
        if os.path.lexists(path):
            self._remove(rel)
        self._create(lambda: make_overlay_whiteout(path), path)

    def _opaque(self, dir_parts: list[str]) -> None:
        self.stats.opaques += 1
        if self.mode == "overlay":
            rel = self.root.resolve_dir(dir_parts, self._implicit_dir)
            mark_overlay_opaque(self.root.abs(rel))
            return
        top = self.root.resolve_dir(dir_parts, None)
        if top is None:
            return
        # Remove what earlier layers put there; keep (and look inside) this layer's dirs.
        stack = [top]
        while stack:
            current = stack.pop()
            with os.scandir(self.root.abs(current)) as it:
                children = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
            for name, is_dir in children:
                rel = join(current, name)
                if rel in self.created:
                    if is_dir:
                        stack.append(rel)
                else:
                    self._remove(rel)

    # -- completion ----------------------------------------------------------------

    def finish(self) -> None:
        """Directory modes and times last, deepest first (writing children changes both)."""
        try:
            self._finish()
        except OSError as e:
            raise LayerError(f"setting directory metadata: {e.strerror} ({e.filename})") from e

    def _finish(self) -> None:
        pending: dict[str, tuple[int, int | None]] = {rel: (mode, None) for rel, mode in self.unlocked.items()}
        pending.update(self.dir_meta)
        for rel in sorted(pending, key=lambda r: (r.count("/"), r), reverse=True):
            mode, mtime = pending[rel]
            path = self.root.abs(rel)
            if mtime is not None:
                fsops.set_times(path, mtime)
            os.chmod(path, mode & 0o7777)
