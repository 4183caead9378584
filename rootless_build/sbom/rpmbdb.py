"""rpm's Berkeley DB `Packages` file (RHEL/CentOS <= 8, older Fedora and SUSE), read
without rpm or libdb: a hash database whose values are rpm header blobs, each stored in a
chain of overflow pages. Only what that needs is read: the hash metadata page (magic,
byte order, page size, last page), hash pages' off-page items, and overflow chains.
Python bindings for libdb exist (berkeleydb, bsddb3) but need the C library and a compiler.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

HASH_MAGIC = 0x061561
P_HASH_UNSORTED, P_OVERFLOW, P_HASH = 2, 7, 13
H_OFFPAGE = 3
PAGE_HEADER = 26
MAX_BLOB = 64 << 20


def header_blobs(f: BinaryIO) -> list[bytes]:
    """Every value stored off-page in the hash database (rpm's header blobs); [] for a file
    that is not a Berkeley DB hash database."""
    meta = f.read(512)
    if len(meta) < 36:
        return []
    for order in ("<", ">"):
        if struct.unpack_from(order + "I", meta, 12)[0] == HASH_MAGIC:
            break
    else:
        return []
    page_size, = struct.unpack_from(order + "I", meta, 20)
    last_page, = struct.unpack_from(order + "I", meta, 32)
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        return []

    def page(number: int) -> bytes:
        f.seek(number * page_size)
        return f.read(page_size)

    blobs = []
    for number in range(1, last_page + 1):
        data = page(number)
        if len(data) < PAGE_HEADER or data[25] not in (P_HASH, P_HASH_UNSORTED):
            continue
        entries, = struct.unpack_from(order + "H", data, 20)
        fits = entries * 2 + PAGE_HEADER <= len(data)
        offsets = struct.unpack_from(f"{order}{entries}H", data, PAGE_HEADER) if fits else ()
        for i in range(1, len(offsets), 2):  # (key, value) pairs: the values
            at = offsets[i]
            if at + 12 > len(data) or data[at] != H_OFFPAGE:
                continue
            first, length = struct.unpack_from(order + "II", data, at + 4)
            blob = _overflow_chain(page, first, length, order, last_page)
            if blob is not None:
                blobs.append(blob)
    return blobs


def _overflow_chain(page, number: int, length: int, order: str, last_page: int) -> bytes | None:
    if length > MAX_BLOB:
        return None
    out = bytearray()
    seen = set()
    while number and len(out) < length:
        if number in seen or number > last_page:
            return None  # a loop or a dangling page: damaged database
        seen.add(number)
        data = page(number)
        if len(data) < PAGE_HEADER or data[25] != P_OVERFLOW:
            return None
        next_page, = struct.unpack_from(order + "I", data, 16)
        used, = struct.unpack_from(order + "H", data, 22)  # bytes of the value on this page
        out += data[PAGE_HEADER:PAGE_HEADER + used]
        number = next_page
    return bytes(out[:length]) if len(out) >= length else None
