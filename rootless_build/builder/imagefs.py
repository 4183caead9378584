"""An image's filesystem read straight from its layer tars: no extraction, no privileges.

Each layer's headers are read once (layerindex: data skipped, the list remembered per
blob), whiteouts and opaque directories applied in order, and each file remembers which
blob and offset hold its bytes. COPY --from reads from it, COPY looks up its destination's parents in it, and
--chown reads /etc/passwd and /etc/group through it.
"""

from __future__ import annotations

from typing import BinaryIO

from rootless_build.builder import fstree
from rootless_build.builder.fstree import DIR, FILE, Node
from rootless_build.builder.layerindex import layer_entries
from rootless_build.builder.patterns import go_clean
from rootless_build.errors import BuildError, LayerError
from rootless_build.oci import mediatypes as mt

WH_PREFIX = ".wh."
WH_OPAQUE = ".wh..wh..opq"
WH_META = ".wh..wh."

_KINDS = {"0": FILE, "7": FILE, "5": DIR, "2": fstree.SYMLINK, "3": fstree.CHAR, "4": fstree.BLOCK,
          "6": fstree.FIFO}


def clean_member_name(name: str) -> str:
    """'./usr/bin/' -> 'usr/bin'; the root is ''."""
    path = go_clean("/" + name).lstrip("/")
    return path


class ImageFS:
    """The merged view of an image's layers (a fstree.Tree)."""

    def __init__(self, store, layers: list[tuple[str, str]]):
        """layers: (blob digest, media type) from the bottom up."""
        self._store = store
        self.nodes: dict[str, Node] = {"": Node(DIR, 0o755)}
        self.children: dict[str, set[str]] = {"": set()}
        self._temps: list = []
        self.layers: list[tuple[str, str]] = []
        for digest, media_type in layers:
            self.apply(digest, media_type)

    @classmethod
    def of_image(cls, store, image) -> ImageFS:
        return cls(store, [(layer.digest, layer.media_type) for layer in image.layers])

    # -- building the view -------------------------------------------------------------

    def apply(self, digest: str, media_type: str) -> None:
        """Put one more layer on top."""
        self.layers.append((digest, media_type))
        source = (digest, mt.layer_compression(media_type))
        try:
            members = layer_entries(self._store, digest, lambda: self._open_blob(*source))
        except OSError as e:
            raise LayerError(f"cannot read layer {digest}: {e.strerror or e}") from None
        entries: list[tuple[str, list]] = []
        opaque: list[str] = []
        whiteouts: list[str] = []
        for member in members:
            path = clean_member_name(member[0])
            parent, _, base = path.rpartition("/")
            if base == WH_OPAQUE:
                opaque.append(parent)
            elif base.startswith(WH_META):
                continue
            elif base.startswith(WH_PREFIX):
                whiteouts.append(fstree.join(parent, base[len(WH_PREFIX):]))
            elif path:
                entries.append((path, member))
        # whiteouts apply to the layers below only, whatever their place in this tar
        for directory in opaque:
            for name in list(self.children.get(directory, ())):
                self._remove(fstree.join(directory, name))
        for path in whiteouts:
            self._remove(path)
        for path, member in entries:
            self._add(path, member, source)

    def _add(self, path: str, member: list, source: tuple[str, str]) -> None:
        name, typeflag, mode, uid, gid, mtime, size, linkname, offset, major, minor, xattrs = member
        parent, _, base = path.rpartition("/")
        self._ensure_dir(parent)
        if typeflag == "1":  # a hardlink: same bytes and inode as its target
            target = self.nodes.get(clean_member_name(linkname))
            if target is None or target.kind != FILE:
                return  # dangling: tar would refuse it too
            if target.ident is None:
                target.ident = target.loc
            node = Node(FILE, target.mode, target.uid, target.gid, target.mtime_ns, target.size,
                        ident=target.ident, xattrs=target.xattrs, loc=target.loc)
        else:
            kind = _KINDS.get(typeflag)
            if kind is None:
                return
            node = Node(kind, mode, uid, gid, int(mtime * 1_000_000_000), size if kind == FILE else 0,
                        linkname if kind == fstree.SYMLINK else "",
                        xattrs={k: bytes.fromhex(v) for k, v in xattrs.items()} if xattrs else None,
                        devmajor=major, devminor=minor, loc=(*source, offset) if kind == FILE else None)
        old = self.nodes.get(path)
        if old is not None and old.kind == DIR and node.kind != DIR:
            self._remove(path)
        self.nodes[path] = node
        self.children[parent].add(base)
        if node.kind == DIR:
            self.children.setdefault(path, set())

    def _ensure_dir(self, path: str) -> None:
        if path in self.nodes and self.nodes[path].kind == DIR:
            return
        parent, _, base = path.rpartition("/")
        self._ensure_dir(parent)
        self.nodes[path] = Node(DIR, 0o755)
        self.children.setdefault(path, set())
        self.children[parent].add(base)

    def _remove(self, path: str) -> None:
        node = self.nodes.pop(path, None)
        if node is None:
            return
        parent, _, base = path.rpartition("/")
        self.children.get(parent, set()).discard(base)
        if node.kind == DIR:
            for name in list(self.children.pop(path, ())):
                self._remove_subtree(fstree.join(path, name))

    def _remove_subtree(self, path: str) -> None:
        node = self.nodes.pop(path, None)
        if node is not None and node.kind == DIR:
            for name in self.children.pop(path, ()):
                self._remove_subtree(fstree.join(path, name))

    # -- fstree.Tree -------------------------------------------------------------------

    def node(self, path: str) -> Node | None:
        return self.nodes.get(path)

    def listdir(self, path: str) -> list[str]:
        return sorted(self.children.get(path, ()))

    def readlink(self, path: str, node: Node) -> str:
        return node.linkname

    def known_digest(self, path: str, node: Node) -> str | None:
        digest, _, offset = node.loc
        return f"{digest}@{offset}"  # blobs are content-addressed: the place names the bytes

    def remember_digest(self, path: str, node: Node, digest: str) -> None:
        pass

    def open(self, path: str, node: Node) -> BinaryIO:
        digest, compression, offset = node.loc
        f = self._open_blob(digest, compression)
        f.seek(offset)
        return f

    def read_text(self, path: str, limit: int = 1 << 20) -> str | None:
        """A small file's text (after symlinks), or None when it is absent."""
        real = fstree.resolve(self, path)
        node = self.nodes.get(real)
        if node is None or node.kind != FILE:
            return None
        with self.open(real, node) as f:
            return f.read(min(node.size, limit)).decode("utf-8", "replace")

    def _open_blob(self, digest: str, compression: str) -> BinaryIO:
        if not compression:  # seeks to single files: unverified (unpacking verifies the blob)
            return self._store.blobs.open_raw(digest)
        return self._decompressed(digest, compression)

    def _decompressed(self, digest: str, compression: str) -> BinaryIO:
        """A compressed layer (an image loaded as-is): decompress once to a seekable temp."""
        import tempfile

        for key, temp in self._temps:
            if key == digest:
                return open(temp.name, "rb")
        temp = tempfile.NamedTemporaryFile(dir=self._store.tmp_dir, prefix="layer-", suffix=".tar")
        with self._store.blobs.open(digest) as raw:
            if compression == "gzip":
                import gzip

                stream: BinaryIO = gzip.GzipFile(fileobj=raw)
            elif compression == "zstd":
                import zstandard

                stream = zstandard.ZstdDecompressor().stream_reader(raw)
            else:
                raise BuildError(f"layer {digest}: unsupported compression {compression}")
            while chunk := stream.read(1 << 20):
                temp.write(chunk)
        temp.flush()
        self._temps.append((digest, temp))
        return open(temp.name, "rb")

    def close(self) -> None:
        for _, temp in self._temps:
            temp.close()
        self._temps.clear()


def empty() -> ImageFS:
    """The filesystem of `scratch`."""
    return ImageFS(None, [])

