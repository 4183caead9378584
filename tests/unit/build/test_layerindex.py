"""The header-only tar scanner agrees with the standard library on every header format."""

from __future__ import annotations

import io
import tarfile

import pytest

from rootless_build.builder.layerindex import layer_entries, scan
from rootless_build.errors import LayerError


def _tar(fmt: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        def add(name, kind=tarfile.REGTYPE, data=b"", **attrs):
            info = tarfile.TarInfo(name)
            info.type, info.size, info.mtime = kind, len(data), 1_600_000_000
            for key, value in attrs.items():
                setattr(info, key, value)
            tar.addfile(info, io.BytesIO(data) if data else None)

        add("dir/", tarfile.DIRTYPE, mode=0o755)
        add("dir/file", data=b"hello", mode=0o4755, uid=1000, gid=1001)
        add("dir/" + "long-name-" * 15, data=b"x" * 700)
        add("dir/link", tarfile.SYMTYPE, linkname="../" + "target-" * 20)
        add("dir/hard", tarfile.LNKTYPE, linkname="dir/file")
        add("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3)
        if fmt == tarfile.PAX_FORMAT:
            add("dir/xattr", data=b"c", pax_headers={"SCHILY.xattr.user.k": "v"}, uid=3_000_000)
    return out.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT], ids=["pax", "gnu"])
def test_scan_matches_tarfile(fmt):
    data = _tar(fmt)
    ours = scan(io.BytesIO(data), "test")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        theirs = tar.getmembers()
    assert len(ours) == len(theirs)
    for entry, member in zip(ours, theirs, strict=False):
        name, typeflag, mode, uid, gid, mtime, size, linkname, offset, major, minor, xattrs = entry
        assert name.rstrip("/") == member.name and typeflag == member.type.decode()
        assert (mode, uid, gid, int(mtime)) == (member.mode, member.uid, member.gid, int(member.mtime))
        assert linkname == member.linkname and offset == member.offset_data
        assert (major, minor) == (member.devmajor, member.devminor)
        if member.isreg():
            assert size == member.size
            assert data[offset:offset + size] == tarfile.open(fileobj=io.BytesIO(data)).extractfile(
                member.name).read()
    if fmt == tarfile.PAX_FORMAT:
        assert ours[-1][11] == {"user.k": b"v".hex()} and ours[-1][3] == 3_000_000


def test_ustar_prefix_field():
    out = io.BytesIO()
    name = "p" * 120 + "/" + "n" * 50  # too long for `name`, split into prefix + name
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = 1
        tar.addfile(info, io.BytesIO(b"z"))
    assert scan(io.BytesIO(out.getvalue()), "t")[0][0] == name


def test_corrupt_header_is_an_error():
    data = bytearray(_tar(tarfile.PAX_FORMAT))
    data[600] ^= 0xFF  # inside the second header
    with pytest.raises(LayerError, match="checksum"):
        scan(io.BytesIO(bytes(data)), "layer x")


def test_entries_are_remembered_per_blob(store):
    data = _tar(tarfile.PAX_FORMAT)
    digest = store.blobs.put_bytes(data)
    opened = []

    def opener():
        opened.append(1)
        return store.blobs.open(digest)

    first = layer_entries(store, digest, opener)
    second = layer_entries(store, digest, opener)
    assert first == second and len(opened) == 1


@pytest.mark.parametrize("torn", [b"", b'{"v": 2, "entries": [["dir/", "5"', b"\0" * 64],
                         ids=["empty", "truncated", "zero-filled"])
def test_a_record_torn_by_a_crash_is_made_again(store, torn):
    """Layer-index records are written without fsync (derived from the blob): what a crash
    can leave of one (nothing, a prefix, zeroed blocks) reads as missing and is rescanned."""
    from rootless_build.store.roots import LAYER_INDEX

    digest = store.blobs.put_bytes(_tar(tarfile.PAX_FORMAT))
    first = layer_entries(store, digest, lambda: store.blobs.open(digest))
    store.record_path(LAYER_INDEX, digest).write_bytes(torn)
    opened = []

    def opener():
        opened.append(1)
        return store.blobs.open(digest)

    assert layer_entries(store, digest, opener) == first and opened == [1]
    assert layer_entries(store, digest, opener) == first and opened == [1]   # the record is whole again
