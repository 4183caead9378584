"""Go binaries' embedded build information (what `go version -m` prints): the ELF section
`.go.buildinfo`, in the inline-string layout of Go 1.18 and later (older binaries are
not reported). Only the ELF header, the section table and that section are read."""

from __future__ import annotations

import struct
from typing import BinaryIO

from rootless_build.sbom.packages import Package

MAGIC = b"\xff Go buildinf:"
_MAX_SECTION = 1 << 20


def _read_at(f: BinaryIO, offset: int, size: int) -> bytes:
    f.seek(offset)
    return f.read(size)


def buildinfo_section(f: BinaryIO, file_size: int) -> bytes | None:
    head = _read_at(f, 0, 64)
    if len(head) < 52 or head[:4] != b"\x7fELF" or head[4] not in (1, 2) or head[5] not in (1, 2):
        return None
    wide, order = head[4] == 2, "<" if head[5] == 1 else ">"
    if wide:
        shoff, = struct.unpack_from(order + "Q", head, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", head, 0x3A)
    else:
        shoff, = struct.unpack_from(order + "I", head, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", head, 0x2E)
    if not shnum or shstrndx >= shnum or shoff + shnum * shentsize > file_size or shentsize < 24:
        return None
    table = _read_at(f, shoff, shnum * shentsize)

    def section(i: int) -> tuple[int, int, int]:
        at = i * shentsize
        if wide:
            name, _, _, _, offset, size = struct.unpack_from(order + "IIQQQQ", table, at)
        else:
            name, _, _, _, offset, size = struct.unpack_from(order + "IIIIII", table, at)
        return name, offset, size

    _, str_off, str_size = section(shstrndx)
    if str_off + str_size > file_size or str_size > _MAX_SECTION:
        return None
    names = _read_at(f, str_off, str_size)
    for i in range(shnum):
        name, offset, size = section(i)
        if names.startswith(b".go.buildinfo\0", name):
            return _read_at(f, offset, min(size, _MAX_SECTION)) if offset + 32 <= file_size else None
    return None


def _varint_string(data: bytes, pos: int) -> tuple[bytes, int]:
    length = shift = 0
    while pos < len(data):
        b = data[pos]
        pos += 1
        length |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return data[pos:pos + length], pos + length


def parse_buildinfo(section: bytes) -> tuple[str, str] | None:
    """(go version, module info text) from a .go.buildinfo section."""
    if not section.startswith(MAGIC) or len(section) < 33 or not section[15] & 2:
        return None  # pre-1.18 pointer layout: not supported
    version, pos = _varint_string(section, 32)
    modinfo, _ = _varint_string(section, pos)
    if len(modinfo) >= 33 and modinfo[-17:-16] == b"\n":
        modinfo = modinfo[16:-16]
    return version.decode("utf-8", "replace"), modinfo.decode("utf-8", "replace")


def modules(go_version: str, modinfo: str, location: str) -> list[Package]:
    """The main module (or, for a binary built outside module mode, its main package path),
    every dependency (replacements applied) and the Go standard library's version."""
    out: list[Package] = []
    main_path = ""
    for line in modinfo.splitlines():
        parts = line.split("\t")
        if parts[0] == "path" and len(parts) >= 2:
            main_path = parts[1]
        elif parts[0] in ("mod", "dep") and len(parts) >= 3:
            out.append(_module(parts[1], parts[2], location))
        elif parts[0] == "=>" and len(parts) >= 3 and out:
            out[-1] = _module(parts[1], parts[2], location)
    if main_path and not any(line.startswith("mod\t") for line in modinfo.splitlines()):
        out.insert(0, _module(main_path, "", location))
    if go_version.startswith("go"):
        out.append(Package("golang", "stdlib", go_version, location))
    return out


def _module(path: str, version: str, location: str) -> Package:
    namespace, _, name = path.rpartition("/")
    return Package("golang", name, "" if version == "(devel)" else version, location, namespace)


def scan(f: BinaryIO, size: int, location: str) -> list[Package]:
    section = buildinfo_section(f, size)
    info = parse_buildinfo(section) if section else None
    return modules(info[0], info[1], location) if info else []
