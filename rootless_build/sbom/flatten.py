"""An image's flattened filesystem without unpacking it, one layer at a time.

Each layer is summarised once (`summarize`): every path it holds, its whiteouts and opaque
directories, and what a reader made of the members it wanted. Summaries are plain JSON,
so they can be cached per layer digest; `visible` then stacks them: each path is taken
from the highest layer that has it, and whiteouts and opaque directories of upper layers
hide what lies below.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Literal, cast

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"

# (path, member, reader) -> a JSON-able result, or None for nothing found
Reader = Callable[[str, tarfile.TarInfo, BinaryIO], object]
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


def summarize(stream: BinaryIO, want: Want, read: Reader) -> dict:
    """{"paths": [...], "whiteouts": [...], "opaque": [...], "found": {path: result}} of one
    uncompressed layer tar (random access when `stream` is a plain file)."""
    paths, whiteouts, opaque, found = [], [], [], {}
    with tarfile.open(fileobj=stream, mode=_mode(stream)) as tar:
        for member in tar:
            path = normalize(member.name)
            if not path:
                continue
            base = path.rsplit("/", 1)[-1]
            if base.startswith(WHITEOUT):
                parent = path[: -len(base)].rstrip("/")
                if base == OPAQUE:
                    opaque.append(parent)
                else:
                    whiteouts.append(f"{parent}/{base[len(WHITEOUT):]}".lstrip("/"))
                continue
            paths.append(path)
            if member.isfile() and want(path, member):
                # a regular file's member always has content: a buffered reader, never None
                result = read(path, member, cast(BinaryIO, tar.extractfile(member)))
                if result is not None:
                    found[path] = result
    return {"paths": paths, "whiteouts": whiteouts, "opaque": opaque, "found": found}


def visible(summaries: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, result) of every found entry the flattened view shows; summaries top first."""
    seen: set[str] = set()
    hidden: set[str] = set()
    opaque: set[str] = set()
    for summary in summaries:
        for path, result in summary["found"].items():
            if path in seen or path in hidden or any(p in hidden or p in opaque for p in _parents(path)):
                continue
            yield path, result
        seen.update(summary["paths"])
        hidden.update(summary["whiteouts"])
        opaque.update(summary["opaque"])


def _mode(stream: BinaryIO) -> Literal["r:", "r|"]:
    """Random access for a plain file (wanted members are read, the rest skipped by seeking),
    a stream for decompressed layers."""
    try:
        return "r:" if stream.seekable() else "r|"
    except (AttributeError, OSError):
        return "r|"
