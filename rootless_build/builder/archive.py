"""ADD of a local archive: recognise a (compressed) tar and read its entries as a stream.

Docker unpacks a local source that is a tar, plain or compressed with gzip, bzip2 or xz
(zstd too, as BuildKit does); anything else is copied as a file. Entries are
placed under the destination as Docker's untar places them (Placer): `..`, absolute
names and symlinks cannot leave it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from rootless_build.builder.fstree import Node
from rootless_build.builder.patterns import go_clean
from rootless_build.errors import BuildError, LayerError
from rootless_build.layers.paths import resolve_links

if TYPE_CHECKING:
    from rootless_build.layers.fileobj import ChunkReader
    from rootless_build.layers.tarreader import TarEntry

_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"))


def decompressor(raw: BinaryIO, compression: str) -> BinaryIO:
    if compression == "gzip":
        from isal import igzip

        return igzip.IGzipFile(fileobj=raw, mode="rb")
    if compression == "bzip2":
        import bz2

        return bz2.BZ2File(raw)
    if compression == "xz":
        import lzma

        return lzma.LZMAFile(raw)
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw)
    return raw


def _looks_like_tar(block: bytes) -> bool:
    from rootless_build.layers.tarreader import is_header  # only when ADD meets a local file

    return is_header(block) and block[:100].strip(b"\0") != b""


def detect(tree, path: str, node: Node) -> str | None:
    """'' for a plain tar, the compression name for a compressed one, None for other files."""
    if node.size == 0:
        return None
    with tree.open(path, node) as raw:
        head = raw.read(6)
    compression = next((name for magic, name in _MAGIC if head.startswith(magic)), "")
    with tree.open(path, node) as raw:
        try:
            stream = decompressor(raw, compression)
            block = stream.read(512)
        except Exception:  # noqa: BLE001 - a file that only starts like an archive is a file
            return None
    return compression if _looks_like_tar(block) else None


def members(stream: BinaryIO, label: str) -> Iterator[tuple[TarEntry, ChunkReader]]:
    """The archive's entries in order with their content (streaming: read each file's
    content before the next); headers validated by the one tar reader (LayerError)."""
    from rootless_build.layers.tarreader import read_entries  # only when an archive is added
    from rootless_build.layers.tarsparse import Expanded

    for entry, content in read_entries(stream, f"cannot unpack {label}"):
        # a sparse file's holes are zeros to whoever copies its bytes
        yield entry, content if entry.sparse is None else Expanded(content, entry.sparse, entry.size)


class Placer:
    """Where each member of an archive unpacked at `dest` lands, as Docker's chrooted untar
    puts it: symlinks met on the way (written by the archive, or in the image below) are
    followed with `dest` as the root, so no entry is ever written beneath a symlink; the
    missing parents of a member are created (0755, root, `now`) unless a symlink leads to
    a place that does not exist, which fails as it does in Docker."""

    def __init__(self, dest: str, lower, label: str):
        self.dest = dest
        self.lower = lower
        self.label = label
        self.kinds: dict[str, tuple[str, str]] = {}  # image path -> (kind, link target)

    def place(self, name: str) -> tuple[str, list[str]]:
        """(the member's path in the image, the parent directories to create first)."""
        inner = go_clean("/" + name).lstrip("/")
        parent, _, base = inner.rpartition("/")
        real_parent, through_link = self._resolve(parent)
        created: list[str] = []
        if real_parent != self.dest:
            kind = self._kind(real_parent)
            if kind is None and through_link:
                raise BuildError(f"cannot unpack {self.label}: {name}: no such file or directory "
                                 "(a symlink in the archive leads nowhere)")
            if kind is None:
                created = self._missing(real_parent)
            elif kind != "dir":
                raise BuildError(f"cannot unpack {self.label}: {name}: not a directory")
        for path in created:
            self.kinds[path] = ("dir", "")
        return _join(real_parent, base), created

    def record(self, path: str, kind: str, linkname: str = "") -> None:
        self.kinds[path] = (kind, linkname)

    def _kind(self, path: str) -> str | None:
        if path in self.kinds:
            return self.kinds[path][0]
        node = self.lower.node(path) if self.lower is not None else None
        return None if node is None else node.kind

    def _link(self, path: str) -> str | None:
        if path in self.kinds:
            kind, target = self.kinds[path]
            return target if kind == "symlink" else None
        node = self.lower.node(path) if self.lower is not None else None
        if node is None or node.kind != "symlink":
            return None
        return self.lower.readlink(path, node)

    def _resolve(self, inner: str) -> tuple[str, bool]:
        """(the image path of `inner` below dest, symlinks followed; whether one was)."""
        followed = False

        def link_target(rel: str) -> str | None:
            nonlocal followed
            target = self._link(_join(self.dest, rel))
            followed = followed or target is not None
            return target

        try:
            resolved = resolve_links(link_target, inner)
        except LayerError:
            raise BuildError(f"cannot unpack {self.label}: too many levels of symbolic links") from None
        return _join(self.dest, resolved), followed

    def _missing(self, path: str) -> list[str]:
        parts = path.split("/")
        out = []
        for depth in range(len(self.dest.split("/")) if self.dest else 1, len(parts) + 1):
            sub = "/".join(parts[:depth])
            if sub and self._kind(sub) is None:
                out.append(sub)
        return out


def _join(base: str, name: str) -> str:
    if not name:
        return base
    return f"{base}/{name}" if base else name
