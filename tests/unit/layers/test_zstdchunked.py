"""zstd:chunked: the blob decompresses to the tar byte for byte, each file's frame holds
exactly its content, and the TOC is where the footer and the annotations say."""

from __future__ import annotations

import hashlib
import io
import tarfile

import zstandard

from rootless_build.layers.zstdchunked import ANNOTATION_KEYS, read_toc, write_chunked


def _tar() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name: str, data: bytes | None = None, **attrs) -> None:
            info = tarfile.TarInfo(name)
            for key, value in attrs.items():
                setattr(info, key, value)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)

        add("etc", type=tarfile.DIRTYPE, mode=0o755)
        add("etc/hello", b"hello\n" * 1000, mtime=1_700_000_000.5, uid=1000, gid=1000)
        add("etc/empty", b"")
        add("x" * 150 + "/long-name", b"long " * 3)  # a PAX path header before it
        add("etc/link", type=tarfile.SYMTYPE, linkname="hello")
        add("etc/hard", type=tarfile.LNKTYPE, linkname="etc/hello")
        add("etc/attr", b"attr", pax_headers={"SCHILY.xattr.user.k": "v"})
        add("big", bytes(range(256)) * 8192)  # 2 MiB
    return out.getvalue()


def test_round_trip_and_toc():
    raw = _tar()
    out = io.BytesIO()
    digests, annotations = write_chunked(io.BufferedReader(io.BytesIO(raw)), out, level=3)
    blob = out.getvalue()
    assert digests.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert digests.digest == "sha256:" + hashlib.sha256(blob).hexdigest() and digests.size == len(blob)
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob), read_across_frames=True)
    assert reader.read() == raw  # the skippable frames are invisible to a zstd reader
    toc = read_toc(io.BytesIO(blob))
    by_name = {e["name"]: e for e in toc["entries"]}
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        for member in tar.getmembers():
            entry = by_name[member.name]
            if member.isfile() and member.size:
                content = tar.extractfile(member).read()
                frame = blob[entry["offset"]:entry["endOffset"]]
                assert zstandard.ZstdDecompressor().decompressobj().decompress(frame) == content
                assert entry["digest"] == "sha256:" + hashlib.sha256(content).hexdigest()
                assert entry["size"] == len(content)
            else:
                assert "offset" not in entry
    assert by_name["etc/link"] == {**by_name["etc/link"], "type": "symlink", "linkName": "hello"}
    assert by_name["etc/hard"]["type"] == "hardlink"
    assert by_name["etc/hello"]["modtime"] == "2023-11-14T22:13:20.5Z" and by_name["etc/hello"]["uid"] == 1000
    assert by_name["etc/attr"]["xattrs"] == {"user.k": "dg=="}
    for checksum_key, position_key in ANNOTATION_KEYS:
        offset, length, size, kind = map(int, annotations[position_key].split(":"))
        assert kind == 1 and annotations[checksum_key] == "sha256:" + hashlib.sha256(
            blob[offset:offset + length]).hexdigest()


def test_same_input_same_blob():
    raw = _tar()
    first, second = io.BytesIO(), io.BytesIO()
    write_chunked(io.BufferedReader(io.BytesIO(raw)), first)
    write_chunked(io.BufferedReader(io.BytesIO(raw)), second)
    assert first.getvalue() == second.getvalue()
