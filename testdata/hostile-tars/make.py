#!/usr/bin/env python3
"""Hostile layer tars, made at test time (small, reproducible, nothing binary committed).

`cases()` maps a name to (tar bytes, a fragment of the one-line error expected); run as
a script, `make.py DIR` writes each as DIR/NAME.tar. Each breaks one rule of the tar
reader (rootless_build/layers/tarreader.py, tarsparse.py); every other byte is valid.
"""

from __future__ import annotations

import sys
from pathlib import Path

BLOCK = 512


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def header(name: bytes = b"file", *, typeflag: bytes = b"0", size: int | bytes = 0, mode: bytes | None = None,
           uid: bytes | None = None, mtime: bytes | None = None, extra: dict[int, bytes] | None = None,
           checksum: bytes | None = None) -> bytes:
    """A ustar header; `bytes` values are written raw into their field (for broken numbers)."""
    block = bytearray(BLOCK)
    block[0:len(name)] = name
    block[100:108] = mode if mode is not None else _octal(0o644, 8)
    block[108:116] = uid if uid is not None else _octal(0, 8)
    block[116:124] = _octal(0, 8)
    block[124:136] = size if isinstance(size, bytes) else _octal(size, 12)
    block[136:148] = mtime if mtime is not None else _octal(0, 12)
    block[156:157] = typeflag
    block[257:265] = b"ustar\x0000"
    for offset, raw in (extra or {}).items():
        block[offset:offset + len(raw)] = raw
    block[148:156] = b" " * 8
    block[148:156] = checksum if checksum is not None else b"%06o\0 " % sum(block)
    return bytes(block)


def pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % BLOCK)


def pax_record(key: str, value: str) -> bytes:
    body = f" {key}={value}\n".encode()
    n = len(body) + 1
    while len(str(n)) + len(body) != n:
        n += 1
    return str(n).encode() + body


def pax(records: bytes, name: bytes = b"file", size: int = 0, data: bytes = b"",
        entry: bytes = b"0") -> bytes:
    """A PAX `x` header with these raw records, then one entry."""
    return (header(b"PaxHeader/" + name, typeflag=b"x", size=len(records)) + pad(records)
            + header(name, typeflag=entry, size=size) + pad(data))


END = bytes(2 * BLOCK)


def _base256(value: int, width: int) -> bytes:
    if value < 0:
        return (b"\xff" + (value % (1 << (8 * (width - 1)))).to_bytes(width - 1, "big"))
    return b"\x80" + value.to_bytes(width - 1, "big")


def gnu_sparse(real_size: int, chunks: list[tuple[int, int]], stored: bytes) -> bytes:
    extra = {}
    for i, (offset, size) in enumerate(chunks[:4]):
        extra[386 + 24 * i] = _octal(offset, 12)
        extra[386 + 24 * i + 12] = _octal(size, 12)
    extra[483] = _octal(real_size, 12) if real_size < 8**11 else _base256(real_size, 12)
    return header(b"sparse", typeflag=b"S", size=len(stored), extra=extra) + pad(stored)


def _pax_fill(n: int) -> bytes:
    """One PAX record filling 512 KiB (a distinct key each time: they would all be kept)."""
    size = 1 << 19
    key = f"x{n}"
    prefix_len = len(f"{size} {key}=")
    return f"{size} {key}=".encode() + b"v" * (size - prefix_len - 1) + b"\n"


def cases() -> dict[str, tuple[bytes, str]]:
    ok = header(b"ok", size=2) + pad(b"ok")
    return {
        # the hang of issue 11 item 9: the layer index went backwards forever
        "pax-negative-size": (pax(pax_record("size", "-1536")), "invalid PAX size"),
        "base256-negative-size": (header(size=_base256(-1536, 12)) + END, "out of range"),
        "base256-huge-size": (header(size=_base256(1 << 60, 12)) + END, "out of range"),
        "bad-base256-marker": (header(size=b"\xa0" + bytes(11)) + END, "invalid base-256"),
        "non-octal-size": (header(size=b"0000000009x\0") + END, "invalid number"),
        "non-octal-mode": (header(mode=b"07z7\0\0\0\0") + END, "invalid number"),
        "non-octal-uid": (header(uid=b"12 34\0\0\0") + END, "invalid number"),
        "bad-checksum": (ok + header(b"x", checksum=b"000001\0 ") + END, "bad tar header checksum"),
        "pax-record-overruns": (pax(b"99 path=x\n"), "malformed PAX record"),
        "pax-record-no-length": (pax(b"path=x\n"), "malformed PAX record"),
        "pax-record-no-newline": (pax(b"11 path=xyz"), "malformed PAX record"),
        "pax-record-no-equals": (pax(b"9 pathx\n\n"), "malformed PAX record"),
        "pax-uid-not-a-number": (pax(pax_record("uid", "12a")), "invalid PAX uid"),
        "pax-huge-uid": (pax(pax_record("uid", "9" * 5000)), "invalid PAX uid"),
        "pax-mtime-nan": (pax(pax_record("mtime", "nan")), "invalid PAX mtime"),
        "pax-mtime-huge": (pax(pax_record("mtime", "9" * 19)), "mtime"),
        "pax-nul-in-path": (pax(pax_record("path", "a\0b")), "NUL byte"),
        "pax-header-too-large": (header(b"PaxHeader/x", typeflag=b"x", size=2 << 20) + bytes(2 << 20) + END,
                                 "more than 1048576"),
        "gnu-long-name-too-large": (header(b"././@LongLink", typeflag=b"L", size=2 << 20) + bytes(2 << 20)
                                    + END, "more than 1048576"),
        "many-pax-headers": (b"".join(header(b"PaxHeader/x", typeflag=b"x", size=1 << 19) + _pax_fill(i)
                                      for i in range(3)) + END, "more than 1048576"),
        # sparse: a 2 KiB header must not become a huge file, nor an inconsistent map be trusted
        "sparse-real-size-1tib": (gnu_sparse(1 << 40, [(0, 5)], b"hello") + END, "sparse file of"),
        "sparse-chunks-overlap": (gnu_sparse(100, [(0, 10), (5, 10)], bytes(20)) + END,
                                  "inconsistent sparse map"),
        "sparse-map-past-end": (gnu_sparse(10, [(8, 5)], bytes(5)) + END, "inconsistent sparse map"),
        "sparse-size-mismatch": (gnu_sparse(100, [(0, 50)], bytes(5)) + END, "inconsistent sparse map"),
        "sparse-pax-0.0": (pax(pax_record("GNU.sparse.offset", "0") + pax_record("GNU.sparse.numbytes", "1"),
                               size=1, data=b"x"), "PAX 0.0 sparse"),
        "sparse-pax-0.1-bad-map": (pax(pax_record("GNU.sparse.map", "0,x") + pax_record("GNU.sparse.size", "9"),
                                       size=1, data=b"x"), "malformed"),
        "truncated-in-data": (header(size=4096) + bytes(1000), "unexpected end of data"),
        "ends-after-pax-header": (pax(pax_record("path", "x"))[:2 * BLOCK], "ends after an extended header"),
    }


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    for name, (data, _expected) in cases().items():
        (out / f"{name}.tar").write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
