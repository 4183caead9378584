"""LayerSink and compression: digests checked against sha256sum, gzip and zstd binaries."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess

import pytest
from conftest import sha256_file

from rootless_build.errors import LayerError
from rootless_build.layers.compression import compress_file, open_uncompressed, sniff
from rootless_build.layers.sink import BLOCK_SIZE, LayerSink

# Compressible and incompressible parts, not a multiple of the block size.
PAYLOAD = (b"layer text " * 300_000) + os.urandom(3 * BLOCK_SIZE + 12345)


def sink_to_file(path, compression, chunks):
    with open(path, "wb") as f, LayerSink(f, compression) as sink:
        for chunk in chunks:
            sink.write(chunk)
        return sink.finish()


def shell_sha256(cmd: str) -> str:
    out = subprocess.run(["sh", "-c", cmd], check=True, capture_output=True).stdout.decode()
    return "sha256:" + out.split()[0]


def chunked(data: bytes, size: int):
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("compression,decompress", [("", "cat"), ("gzip", "gzip -dc"), ("zstd", "zstd -dc")])
def test_digests_match_coreutils_and_decompressors(tmp_path, compression, decompress):
    blob = tmp_path / "blob"
    result = sink_to_file(blob, compression, chunked(PAYLOAD, 70_001))
    expected_diff_id = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()
    assert result.diff_id == expected_diff_id
    assert result.uncompressed_size == len(PAYLOAD)
    assert result.compression == compression
    assert result.size == blob.stat().st_size
    assert result.digest == shell_sha256(f"sha256sum {blob}") == sha256_file(blob)
    assert shell_sha256(f"{decompress} {blob} | sha256sum") == expected_diff_id
    if compression == "":
        assert result.digest == result.diff_id


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_compressed_bytes_do_not_depend_on_write_pattern(tmp_path, compression):
    a = sink_to_file(tmp_path / "a", compression, chunked(PAYLOAD, 512))
    b = sink_to_file(tmp_path / "b", compression, chunked(PAYLOAD, 3 * BLOCK_SIZE + 7))
    c = sink_to_file(tmp_path / "c", compression, [PAYLOAD])
    assert a == b == c
    # compress_file (save/push of a stored uncompressed layer) makes the very same blob.
    plain = tmp_path / "plain"
    plain.write_bytes(PAYLOAD)
    with open(tmp_path / "d", "wb") as f:
        digest, size = compress_file(plain, f, compression)
    assert (digest, size) == (a.digest, a.size)
    assert (tmp_path / "d").read_bytes() == (tmp_path / "a").read_bytes()


@pytest.mark.parametrize("compression,option", [("gzip", "gzip_threads"), ("zstd", "zstd_threads")])
def test_compressed_bytes_do_not_depend_on_thread_count(compression, option):
    digests = set()
    for threads in (1, 2, 3):
        out = io.BytesIO()
        with LayerSink(out, compression, **{option: threads}) as sink:
            sink.write(PAYLOAD)
            digests.add(sink.finish().digest)
    assert len(digests) == 1


def test_write_from_reads_straight_into_blocks(tmp_path):
    src = tmp_path / "src"
    src.write_bytes(PAYLOAD)
    with open(src, "rb", buffering=0) as f, open(tmp_path / "out", "wb") as out, LayerSink(out) as sink:
        sink.write(b"header")
        sink.write_from(f, len(PAYLOAD))
        result = sink.finish()
    assert result.digest == "sha256:" + hashlib.sha256(b"header" + PAYLOAD).hexdigest()
    with open(src, "rb", buffering=0) as f, open(tmp_path / "out2", "wb") as out, LayerSink(out) as sink:
        with pytest.raises(LayerError, match="early"):
            sink.write_from(f, len(PAYLOAD) + 1)


def test_unknown_compression_refused(tmp_path):
    with pytest.raises(LayerError):
        LayerSink(io.BytesIO(), "lz4")


@pytest.mark.parametrize("compression", ["", "gzip", "zstd"])
@pytest.mark.parametrize("seekable", [True, False], ids=["file", "pipe"])
def test_open_uncompressed_sniffs_and_streams(tmp_path, compression, seekable):
    blob = tmp_path / "blob"
    sink_to_file(blob, compression, [PAYLOAD])
    if seekable:
        src = open(blob, "rb")
    else:
        proc = subprocess.Popen(["cat", str(blob)], stdout=subprocess.PIPE)
        src = proc.stdout
    with src:
        reader = open_uncompressed(src)
        got = hashlib.sha256()
        while chunk := reader.read(100_000):
            got.update(chunk)
        reader.close()
        assert not src.closed
    if not seekable:
        proc.wait()
    assert got.hexdigest() == hashlib.sha256(PAYLOAD).hexdigest()


def test_multi_member_gzip_and_multi_frame_zstd(tmp_path):
    import zstandard

    gz = gzip.compress(b"first ") + gzip.compress(b"second")
    assert open_uncompressed(io.BytesIO(gz)).read() == b"first second"
    zs = zstandard.ZstdCompressor().compress(b"one ") + zstandard.ZstdCompressor().compress(b"two")
    assert open_uncompressed(io.BytesIO(zs)).read() == b"one two"


def test_sniff():
    assert sniff(b"\x1f\x8b\x08\x00") == "gzip"
    assert sniff(b"\x28\xb5\x2f\xfd") == "zstd"
    assert sniff(b"etc/") == ""


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_corrupt_stream_is_a_layer_error(tmp_path, compression):
    blob = tmp_path / "blob"
    sink_to_file(blob, compression, [PAYLOAD])
    data = bytearray(blob.read_bytes())
    data[len(data) // 2:len(data) // 2 + 64] = bytes(64)
    with pytest.raises(LayerError, match="corrupt"):
        reader = open_uncompressed(io.BytesIO(bytes(data)))
        while reader.read(1 << 20):
            pass
