"""Stream a CopyPlan into an uncompressed layer blob with the layers' tar writer.

One read of each source file feeds the tar stream (hashed into the diff_id by LayerSink
on its own thread) and, when the file's digest is not known yet, its content hash (for
the cache key and the stat cache) on this thread. No staging copy, nothing in memory.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rootless_build.builder import archive
from rootless_build.builder.copyplan import ArchiveSource, CopyPlan, Entry
from rootless_build.builder.fstree import BLOCK, CHAR, DIR, FIFO, FILE, SYMLINK
from rootless_build.builder.patterns import go_clean
from rootless_build.errors import LayerError
from rootless_build.layers.sink import LayerSink
from rootless_build.layers.tarwriter import LayerTarWriter
from rootless_build.store.tempblob import TempBlob

if TYPE_CHECKING:
    from rootless_build.layers.fileobj import ChunkReader
    from rootless_build.layers.tarreader import TarEntry


@dataclass(frozen=True)
class WrittenLayer:
    diff_id: str  # == digest: local layers are stored uncompressed
    size: int
    blob: TempBlob  # still open: keep() fsyncs and adopts it, discard() drops it

    @property
    def temp_path(self) -> Path:
        return self.blob.path


class _HashingReader:
    """readinto() that also hashes what it read: the file's digest on the same pass (this
    thread; LayerSink hashes the tar stream on its own, so the two use both cores)."""

    def __init__(self, raw) -> None:
        self._raw = raw
        self.hasher = hashlib.sha256()

    def readinto(self, view) -> int:
        n = self._raw.readinto(view)
        if n:
            self.hasher.update(view[:n])
        return n

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.hasher.update(data)
        return data

    def digest(self) -> str:
        return "sha256:" + self.hasher.hexdigest()


def write_layer(store, plan: CopyPlan, *, epoch: int | None = None) -> WrittenLayer:
    def fill(tar: LayerTarWriter) -> None:
        for entry in plan.entries:
            _write_entry(tar, entry)
        for source in plan.archives:
            _write_archive(tar, source)

    return write_with(store, fill, epoch=epoch)


def write_with(store: Any, fill: Callable[[LayerTarWriter], None], *, epoch: int | None = None) -> WrittenLayer:
    """A layer blob in the store's tmp dir holding what `fill` writes; `keep` it or `discard` it."""
    blob = TempBlob(store.tmp_dir, prefix="layer-", what="writing a layer")
    try:
        with LayerSink(blob.file) as sink:
            tar = LayerTarWriter(sink, source_date_epoch=epoch)
            fill(tar)
            tar.close()
            result = sink.finish()
    except BaseException:
        blob.abort()
        raise
    return WrittenLayer(result.diff_id, result.size, blob)


def discard(written: WrittenLayer) -> None:
    """Drop a layer the cache made unnecessary (no fsync spent on it)."""
    written.blob.abort()


def keep(store, written: WrittenLayer) -> None:
    """Make the layer durable and move it into the blob store under its digest."""
    written.blob.commit(store.blobs, written.diff_id)


def hash_files(entries: list[Entry]) -> None:
    """Hash files whose digests are unknown, without writing anything (see handlers/copy)."""
    for e in entries:
        with e.tree.open(e.src, e.node) as raw:
            reader = _HashingReader(raw)
            buffer = memoryview(bytearray(1 << 20))
            remaining = e.size
            while remaining:
                got = reader.readinto(buffer[: min(remaining, len(buffer))])
                if not got:
                    raise LayerError(f"/{e.src} ended {remaining} bytes early "
                                     "(did it change while being read?)")
                remaining -= got
        e.digest = reader.digest()
        e.tree.remember_digest(e.src, e.node, e.digest)


def _write_entry(tar: LayerTarWriter, e: Entry) -> None:
    owner = dict(uid=e.uid, gid=e.gid, mtime=e.mtime_ns // 1_000_000_000)
    if e.hardlink_to:
        tar.add_hardlink(e.dest, e.hardlink_to, mode=e.mode, xattrs=e.xattrs, **owner)
    elif e.kind == DIR:
        tar.add_dir(e.dest, mode=e.mode, xattrs=e.xattrs, **owner)
    elif e.kind == SYMLINK:
        tar.add_symlink(e.dest, e.linkname, xattrs=e.xattrs, **owner)
    elif e.kind in (CHAR, BLOCK):
        tar.add_device(e.dest, kind=e.kind, major=e.devmajor, minor=e.devminor, mode=e.mode, **owner)
    elif e.kind == FIFO:
        tar.add_fifo(e.dest, mode=e.mode, **owner)
    elif e.data is not None:
        tar.add_file(e.dest, io.BytesIO(e.data), size=len(e.data), mode=e.mode, **owner)
    else:
        assert e.kind == FILE
        with e.tree.open(e.src, e.node) as raw:
            if e.digest is not None:
                tar.add_file(e.dest, raw, size=e.size, mode=e.mode, xattrs=e.xattrs, **owner)
                return
            reader = _HashingReader(raw)
            tar.add_file(e.dest, reader, size=e.size, mode=e.mode, xattrs=e.xattrs, **owner)
            e.digest = reader.digest()
            e.tree.remember_digest(e.src, e.node, e.digest)


def _write_archive(tar: LayerTarWriter, source: ArchiveSource) -> None:
    """Members keep their own owners (Docker ignores --chown for an unpacked archive)."""
    raw = source.tree.open(source.src, source.node)
    hashing = _HashingReader(raw) if source.digest is None else None
    stream = archive.decompressor(hashing or raw, source.compression)
    placer = archive.Placer(source.dest, source.lower, f"/{source.src}")
    mtime = source.now_ns // 1_000_000_000
    try:
        for info, content in archive.members(stream, f"/{source.src}"):
            if not go_clean("/" + info.name).lstrip("/") or info.name.rpartition("/")[2].startswith(".wh."):
                continue  # the destination itself, or a name a layer cannot hold
            name, parents = placer.place(info.name)
            for parent in parents:
                tar.add_dir(parent, mode=0o755, uid=0, gid=0, mtime=mtime)
            _write_member(tar, name, placer, info, content)
        if hashing is not None:
            while hashing.read(1 << 20):
                pass  # the digest covers the whole file, trailing blocks included
            source.digest = hashing.digest()
            source.tree.remember_digest(source.src, source.node, source.digest)
    finally:
        raw.close()


def _write_member(tar: LayerTarWriter, name: str, placer: archive.Placer, info: TarEntry,
                  content: ChunkReader) -> None:
    xattrs = {k[len("SCHILY.xattr."):]: v.encode("utf-8", "surrogateescape")
              for k, v in info.pax_headers.items() if k.startswith("SCHILY.xattr.")} or None
    owner: dict[str, Any] = {"uid": info.uid, "gid": info.gid, "mtime": info.mtime}
    mode = info.mode & 0o7777
    placer.record(name, "dir" if info.isdir() else "symlink" if info.issym() else "file", info.linkname)
    if info.islnk():
        tar.add_hardlink(name, placer.place(info.linkname)[0], mode=mode, **owner)
    elif info.isdir():
        tar.add_dir(name, mode=mode, xattrs=xattrs, **owner)
    elif info.issym():
        tar.add_symlink(name, info.linkname, xattrs=xattrs, **owner)
    elif info.ischr() or info.isblk():
        tar.add_device(name, kind="char" if info.ischr() else "block", major=info.devmajor,
                       minor=info.devminor, mode=mode, **owner)
    elif info.isfifo():
        tar.add_fifo(name, mode=mode, **owner)
    elif info.isreg():
        tar.add_file(name, content, size=info.size, mode=mode, xattrs=xattrs, **owner)
