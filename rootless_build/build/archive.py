"""ADD of a local archive: recognise a (compressed) tar and read its entries as a stream.

Docker unpacks a local source that is a tar, plain or compressed with gzip, bzip2 or xz
(zstd too, as BuildKit does); anything else is copied as a file. Entries are
rebased under the destination: `..` and absolute names cannot leave it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, Iterator

from rootless_build.build.fstree import Node
from rootless_build.build.patterns import go_clean

if TYPE_CHECKING:
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


def members(stream: BinaryIO, label: str) -> Iterator[tuple[TarEntry, BinaryIO]]:
    """The archive's entries in order with their content (streaming: read each file's
    content before the next); headers validated by the one tar reader (LayerError)."""
    from rootless_build.layers.tarreader import read_entries  # only when an archive is added
    from rootless_build.layers.tarsparse import Expanded

    for entry, content in read_entries(stream, f"cannot unpack {label}"):
        # a sparse file's holes are zeros to whoever copies its bytes
        yield entry, content if entry.sparse is None else Expanded(content, entry.sparse, entry.size)


def rebase(dest: str, name: str) -> str:
    """An archive member's path under `dest`, never outside it."""
    inner = go_clean("/" + name).lstrip("/")
    if not inner:
        return dest
    return f"{dest}/{inner}" if dest else inner
