"""Sparse tar entries, as GNU tar writes them with --sparse, read and checked.

Formats: the old GNU `S` header (4 map entries in the header, 21 per extension block),
PAX 0.1 (`GNU.sparse.map`) and PAX 1.0 (the map at the start of the data, in decimal
lines padded to a block). PAX 0.0 repeats keys, which one record per key cannot hold:
it is refused (GNU tar has not written it since 2005).

Python's tarfile trusts a map as written: a 2 KiB header declaring a 2 GiB real size
became a 2 GiB file of zeros. Here a map must be consistent (chunks in order, not
overlapping, inside the real size, their lengths adding up to the stored data), the real
size is bounded, and the extractor writes holes as holes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

from rootless_build.errors import LayerError
from rootless_build.layers.fileobj import ChunkReader

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MAX_SPARSE_SIZE = 1 << 33  # 8 GiB, what a plain ustar size field holds; lastlog of a high uid is the usual giant
MAX_CHUNKS = 1 << 16
_BLOCK = 512

SparseMap = tuple[tuple[int, int], ...]  # (offset in the file, bytes stored there)
Fail = Callable[[str], LayerError]


def gnu_header_map(header: bytes, next_block: Callable[[], bytes], number: Callable[[bytes, str], int],
                   fail: Fail) -> tuple[list[tuple[int, int]], int]:
    """The map and real size of an old GNU `S` entry; reads its extension blocks."""
    chunks: list[tuple[int, int]] = []
    _structs(header[386:482], 4, chunks, number)
    extended = header[482]
    real_size = number(header[483:495], "realsize")
    while extended:
        if len(chunks) > MAX_CHUNKS:
            raise fail(f"sparse map of more than {MAX_CHUNKS} chunks")
        block = next_block()
        _structs(block, 21, chunks, number)
        extended = block[504]
    return chunks, real_size


def _structs(area: bytes, count: int, out: list[tuple[int, int]],
             number: Callable[[bytes, str], int]) -> None:
    for i in range(count):
        field = area[i * 24:(i + 1) * 24]
        if field == bytes(24):
            return
        out.append((number(field[:12], "sparse offset"), number(field[12:], "sparse size")))


def pax_version(pax: dict[str, str], fail: Fail) -> str | None:
    """'0.1' or '1.0' for a PAX sparse entry, None for any other entry."""
    if "GNU.sparse.offset" in pax or "GNU.sparse.numbytes" in pax:
        raise fail("PAX 0.0 sparse entries are not supported")
    if pax.get("GNU.sparse.major") == "1" and pax.get("GNU.sparse.minor") == "0":
        return "1.0"
    if "GNU.sparse.map" in pax:
        return "0.1"
    if any(key.startswith("GNU.sparse.") and key != "GNU.sparse.name" for key in pax):
        raise fail("unknown sparse format")
    return None


def pax_map(pax: dict[str, str], fail: Fail) -> tuple[list[tuple[int, int]], int]:
    """PAX 0.1: `GNU.sparse.map` = offset,size,offset,size...; `GNU.sparse.size`."""
    numbers = _decimals(pax["GNU.sparse.map"].split(","), fail) if pax["GNU.sparse.map"] else []
    if len(numbers) % 2 or len(numbers) > 2 * MAX_CHUNKS:
        raise fail("malformed GNU.sparse.map")
    return list(zip(numbers[::2], numbers[1::2], strict=False)), _real_size(pax, "GNU.sparse.size", fail)


def pax_real_size(pax: dict[str, str], fail: Fail) -> int:
    return _real_size(pax, "GNU.sparse.realsize", fail)


def _real_size(pax: dict[str, str], key: str, fail: Fail) -> int:
    values = _decimals([pax.get(key, "")], fail)
    return values[0]


def data_map(read: Callable[[int], bytes], fail: Fail) -> tuple[list[tuple[int, int]], int]:
    """PAX 1.0: the map at the start of the data; (map, bytes it took: whole blocks)."""
    buf = b""
    used = 0

    def line() -> bytes:
        nonlocal buf, used
        while b"\n" not in buf:
            if used >= MAX_CHUNKS * 48:
                raise fail("sparse map too long")
            block = read(_BLOCK)
            if len(block) < _BLOCK:
                raise fail("the tar ends inside a sparse map")
            buf += block
            used += _BLOCK
        text, _, buf = buf.partition(b"\n")
        return text

    count = _decimals([line().decode("ascii", "replace")], fail)[0]
    if count > MAX_CHUNKS:
        raise fail(f"sparse map of more than {MAX_CHUNKS} chunks")
    numbers = _decimals([line().decode("ascii", "replace") for _ in range(2 * count)], fail)
    return list(zip(numbers[::2], numbers[1::2], strict=False)), used


def _decimals(texts: list[str], fail: Fail) -> list[int]:
    out = []
    for text in texts:
        if not (text.isascii() and text.isdigit() and len(text) <= 20):
            raise fail(f"malformed sparse map number {text[:20]!r}")
        out.append(int(text))
    return out


def checked(chunks: list[tuple[int, int]], real_size: int, stored: int, fail: Fail) -> SparseMap:
    """The map, if it describes `stored` bytes laid out in order inside `real_size`."""
    if not 0 <= real_size <= MAX_SPARSE_SIZE:
        raise fail(f"sparse file of {real_size} bytes (the limit is {MAX_SPARSE_SIZE})")
    end = total = 0
    kept = []
    for offset, size in chunks:
        if offset < end or size < 0 or offset + size > real_size:
            raise fail("inconsistent sparse map (chunks overlap, go backwards or pass the end)")
        end = offset + size
        total += size
        if size:
            kept.append((offset, size))
    if total != stored:
        raise fail(f"inconsistent sparse map ({total} bytes mapped, {stored} stored)")
    return tuple(kept)


class Expanded(io.RawIOBase):
    """A sparse entry's whole content, holes as zeros, from its stored chunks (for consumers
    that copy bytes, such as ADD of an archive; extraction writes holes as holes)."""

    def __init__(self, stored: ChunkReader, chunks: SparseMap, size: int) -> None:
        self._stored = stored
        self._chunks = list(reversed(chunks))
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: WriteableBuffer) -> int:
        view = memoryview(b).cast("B")
        if self._pos >= self._size or not len(view):
            return 0
        if self._chunks and self._chunks[-1][0] <= self._pos:
            offset, size = self._chunks[-1]
            n = self._stored.readinto(view[:min(len(view), offset + size - self._pos)])
            if offset + size == self._pos + n:
                self._chunks.pop()
        else:
            hole_end = self._chunks[-1][0] if self._chunks else self._size
            n = min(len(view), hole_end - self._pos)
            view[:n] = bytes(n)
        self._pos += n
        return n
