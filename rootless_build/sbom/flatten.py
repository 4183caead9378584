"""Walk an image's flattened filesystem without unpacking it: layers from the top down,
each path taken from the highest layer that has it, whiteouts and opaque directories of
upper layers hiding what lies below. Only the members a `want(path, member)` predicate
picks are opened, while the layer streams past (gzip and zstd layers work too)."""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"

Want = Callable[[str, tarfile.TarInfo], bool]


def normalize(name: str) -> str:
    """'./usr/bin/x' and '/usr/bin/x' -> 'usr/bin/x'."""
    while name.startswith("./"):
        name = name[2:]
    return name.strip("/")


def _parents(path: str) -> Iterator[str]:
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        yield path


def walk(layers: Iterable[Callable[[], BinaryIO]], want: Want) -> Iterator[tuple[str, tarfile.TarInfo, BinaryIO | None]]:
    """(path, member, reader) for each wanted file of the flattened view; `layers` are
    openers of the uncompressed layer tars, top layer first. The reader is valid only
    until the next item (the tar streams on)."""
    seen: set[str] = set()      # paths an upper layer provided (files and directories)
    hidden: set[str] = set()    # paths an upper layer whited out
    opaque: set[str] = set()    # directories whose lower contents an upper layer hid
    for open_layer in layers:
        layer_hidden: set[str] = set()
        layer_opaque: set[str] = set()
        layer_seen: set[str] = set()
        with open_layer() as stream, tarfile.open(fileobj=stream, mode=_mode(stream)) as tar:
            for member in tar:
                path = normalize(member.name)
                if not path:
                    continue
                base = path.rsplit("/", 1)[-1]
                if base.startswith(WHITEOUT):
                    parent = path[: -len(base)].rstrip("/")
                    if base == OPAQUE:
                        layer_opaque.add(parent)
                    else:
                        layer_hidden.add(f"{parent}/{base[len(WHITEOUT):]}".lstrip("/"))
                    continue
                if path in seen or path in hidden or any(p in hidden or p in opaque for p in _parents(path)):
                    continue
                layer_seen.add(path)
                if member.isfile() and want(path, member):
                    yield path, member, tar.extractfile(member)
                elif member.issym() and want(path, member):
                    yield path, member, None
        seen |= layer_seen
        hidden |= layer_hidden
        opaque |= layer_opaque


def _mode(stream: BinaryIO) -> str:
    """Random access for a plain file (wanted members are read, the rest skipped by seeking),
    a stream for decompressed layers."""
    try:
        return "r:" if stream.seekable() else "r|"
    except (AttributeError, OSError):
        return "r|"
