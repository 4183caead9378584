"""The archive tar writer and the streaming reader against Python's tarfile, both ways."""

from __future__ import annotations

import io
import tarfile

import pytest

from rootless_build.archive.tarin import TarFormatError, members
from rootless_build.archive.tarout import TarOut

LONG = "d/" + "x" * 150 + "/file"


def _tarfile_archive(fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data in [("a.txt", b"hello"), (LONG, b"long" * 1000), ("empty", b"")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, kind, target in [("sym", tarfile.SYMTYPE, "a.txt"), ("hard", tarfile.LNKTYPE, LONG),
                                   ("longsym", tarfile.SYMTYPE, "t/" + "y" * 120)]:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tar.addfile(info)
        info = tarfile.TarInfo("dir")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    return buf.getvalue()


def _read_all(data: bytes) -> list[tuple[str, bytes, int, str, bytes]]:
    out = []
    for member, content in members(io.BufferedReader(io.BytesIO(data))):
        body = content.read() if member.type == tarfile.REGTYPE else b""
        out.append((member.name, member.type, member.size, member.linkname, body))
    return out


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT], ids=["gnu", "pax"])
def test_reader_matches_tarfile(fmt):
    got = _read_all(_tarfile_archive(fmt))
    assert [(n, t) for n, t, *_ in got] == [("a.txt", tarfile.REGTYPE), (LONG, tarfile.REGTYPE),
                                            ("empty", tarfile.REGTYPE), ("sym", tarfile.SYMTYPE),
                                            ("hard", tarfile.LNKTYPE), ("longsym", tarfile.SYMTYPE),
                                            ("dir", tarfile.DIRTYPE)]
    assert got[1][4] == b"long" * 1000 and got[0][4] == b"hello" and got[2][4] == b""
    assert got[4][3] == LONG and got[5][3] == "t/" + "y" * 120


def test_unread_content_is_skipped():
    data = _tarfile_archive(tarfile.PAX_FORMAT)
    names = [m.name for m, _ in members(io.BufferedReader(io.BytesIO(data)))]
    assert names[:3] == ["a.txt", LONG, "empty"]


def test_peek_keeps_the_bytes():
    data = _tarfile_archive(tarfile.PAX_FORMAT)
    for member, content in members(io.BufferedReader(io.BytesIO(data))):
        if member.name == LONG:
            assert content.peek(4) == b"long"
            assert content.read() == b"long" * 1000
            break


@pytest.mark.parametrize("where", ["header", "pax record", "data"])
def test_truncated_stream_is_an_error(where):
    data = _tarfile_archive(tarfile.PAX_FORMAT)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        long_member = tar.getmember(LONG)
    cut = {"header": 100, "pax record": long_member.offset + 600,
           "data": long_member.offset_data + 1000}[where]
    with pytest.raises(TarFormatError, match="unexpected end of data"):
        _read_all(data[:cut])


def test_garbage_is_not_a_tar():
    with pytest.raises(TarFormatError, match="not a tar archive"):
        _read_all(b"x" * 2048)


def test_writer_output_reads_back_with_tarfile(tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(b"B" * 70000)
    buf = io.BytesIO()
    out = TarOut(buf)
    out.add_bytes("index.json", b"{}")
    out.add_file("blobs/sha256/" + "a" * 64, blob, 70000)
    out.add_file("deep/" + "n" * 120 + "/layer.tar", blob, 70000)
    out.close()
    data = buf.getvalue()
    assert len(data) % 10240 == 0
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
        dirs = sorted(m.name for m in tar if m.isdir())
    assert files == {"index.json": b"{}", "blobs/sha256/" + "a" * 64: b"B" * 70000,
                     "deep/" + "n" * 120 + "/layer.tar": b"B" * 70000}
    assert dirs == ["blobs", "blobs/sha256", "deep", "deep/" + "n" * 120]
    assert [m.name for m, _ in members(io.BufferedReader(io.BytesIO(data)))][:2] == ["index.json", "blobs"]


def test_writer_refuses_a_file_that_changed_size(tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(b"12345")
    with pytest.raises(OSError, match="changed size"):
        TarOut(io.BytesIO()).add_file("x", blob, 4)
