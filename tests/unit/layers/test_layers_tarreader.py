"""The one tar reader: every hostile header of testdata/hostile-tars is one LayerError,
in every consumer (layer index, extraction, ADD, archive members), quickly; sane tars and
sparse files read as tarfile reads them."""

from __future__ import annotations

import io
import os
import runpy
import subprocess
import tarfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rootless_build.archive.tarin import members
from rootless_build.builder import archive
from rootless_build.builder.layerindex import scan
from rootless_build.errors import LayerError
from rootless_build.layers.extract import extract_layer
from rootless_build.layers.tarreader import read_entries, scan_file

HOSTILE = runpy.run_path(str(Path(__file__).parents[3] / "testdata" / "hostile-tars" / "make.py"))
CASES = HOSTILE["cases"]()


def _index(data: bytes, tmp: Path) -> None:
    scan(io.BytesIO(data), "layer")


def _index_file(data: bytes, tmp: Path) -> None:
    (tmp / "l.tar").write_bytes(data)
    with open(tmp / "l.tar", "rb") as f:  # a plain file: content skipped by seeks
        scan(f, "layer")


def _extract(data: bytes, tmp: Path) -> None:
    (tmp / "out").mkdir()
    extract_layer(io.BytesIO(data), tmp / "out", mode="overlay")


def _add(data: bytes, tmp: Path) -> None:
    for _entry, content in archive.members(io.BytesIO(data), "/a.tar"):
        content.read()


def _archive(data: bytes, tmp: Path) -> None:
    for _member, content in members(io.BufferedReader(io.BytesIO(data))):
        content.read()


CONSUMERS = {"index": _index, "index-file": _index_file, "extract": _extract, "add": _add, "archive": _archive}


@pytest.mark.parametrize("consumer", CONSUMERS)
@pytest.mark.parametrize("case", CASES)
def test_hostile_headers_are_one_line_layer_errors(case, consumer, tmp_path):
    data, expected = CASES[case]
    start = time.monotonic()
    with pytest.raises(LayerError) as caught:
        CONSUMERS[consumer](data, tmp_path)
    message = str(caught.value)
    assert expected in message and "\n" not in message, message
    assert time.monotonic() - start < 5


def _tarfile_bytes(fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data in [("a" * 150, b"x" * 1000), ("é/b", b""), ("c", b"hi")]:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.uid = len(data), 1_700_000_000, 70_000_000
            info.pax_headers = {"SCHILY.xattr.user.k": "v"} if fmt == tarfile.PAX_FORMAT else {}
            tar.addfile(info, io.BytesIO(data))
        for name, kind, target in [("d", tarfile.DIRTYPE, ""), ("s", tarfile.SYMTYPE, "t" * 200),
                                   ("h", tarfile.LNKTYPE, "c"), ("f", tarfile.FIFOTYPE, "")]:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tar.addfile(info)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT], ids=["gnu", "pax"])
def test_reads_what_tarfile_reads(fmt):
    data = _tarfile_bytes(fmt)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        expected = [(m.name, m.type, m.size, m.uid, m.mtime, m.linkname, m.pax_headers.get("SCHILY.xattr.user.k"),
                     tar.extractfile(m).read() if m.isreg() else b"") for m in tar]
    got = [(e.name, e.type, e.size, e.uid, e.mtime, e.linkname, e.pax_headers.get("SCHILY.xattr.user.k"),
            c.read()) for e, c in read_entries(io.BytesIO(data), "t")]
    assert got == expected


def test_sparse_header_of_2_gib_is_a_hole_not_2_gib_of_zeros(tmp_path):
    real = 2 << 30
    data = HOSTILE["gnu_sparse"](real, [(real - 5, 5)], b"hello") + bytes(1024)
    assert len(data) < 4096
    (tmp_path / "out").mkdir()
    extract_layer(io.BytesIO(data), tmp_path / "out")
    st = os.stat(tmp_path / "out" / "sparse")
    assert st.st_size == real and st.st_blocks * 512 < 1 << 20  # holes cost nothing
    with open(tmp_path / "out" / "sparse", "rb") as f:
        f.seek(real - 5)
        assert f.read() == b"hello"


@pytest.mark.parametrize("fmt", ["gnu", "pax"])
def test_gnu_tar_sparse_files_read_whole_for_add(tmp_path, fmt):
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "sparse", "wb") as f:
        f.truncate(3 << 20)
        f.seek(1_000_000)
        f.write(b"hello")
    tar = tmp_path / "s.tar"
    subprocess.run(["tar", "--sparse", f"--format={fmt}", "-C", str(src), "-cf", str(tar), "sparse"], check=True)
    with open(tar, "rb") as f:
        (entry, content), = list((e, c.read()) for e, c in archive.members(f, "/s.tar"))
    assert entry.name == "sparse" and entry.size == 3 << 20
    assert content == (src / "sparse").read_bytes()


def test_scan_file_counts_entries(tmp_path):
    (tmp_path / "l.tar").write_bytes(_tarfile_bytes(tarfile.PAX_FORMAT))
    assert scan_file(tmp_path / "l.tar", "layer") == 7
    (tmp_path / "cut.tar").write_bytes(_tarfile_bytes(tarfile.PAX_FORMAT)[:2100])
    with pytest.raises(LayerError, match="unexpected end of data"):
        scan_file(tmp_path / "cut.tar", "layer")


_SEED_TARS = [_tarfile_bytes(tarfile.GNU_FORMAT), _tarfile_bytes(tarfile.PAX_FORMAT),
              HOSTILE["gnu_sparse"](100, [(10, 5), (50, 5)], b"helloworld") + bytes(1024)]


@settings(max_examples=300, deadline=timedelta(seconds=2), derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(range(len(_SEED_TARS))),
       edits=st.lists(st.tuples(st.integers(0, 4095), st.binary(min_size=1, max_size=12)), max_size=6))
def test_mutated_tars_fail_only_with_layer_errors(seed, edits):
    data = bytearray(_SEED_TARS[seed])
    for offset, patch in edits:
        offset %= len(data)
        data[offset:offset + len(patch)] = patch
    try:
        for _entry, content in read_entries(io.BytesIO(bytes(data)), "fuzz"):
            content.read()
    except LayerError as e:
        assert "\n" not in str(e)
