"""The deterministic tar writer and tree walk, checked against GNU tar and tarfile."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import tarfile
from pathlib import Path

import pytest
from conftest import tree_digest, user_xattrs_supported, write_layer

from rootless_build.errors import LayerError
from rootless_build.layers import tarheader as th
from rootless_build.layers.tarwriter import LayerTarWriter
from rootless_build.layers.tree import write_tree

LONG_NAME = "deep/" + "d" * 120 + "/" + "f" * 150
UNICODE_NAME = "données/日本語-ファイル.txt"


def make_tree(root: Path) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (root / "bin").mkdir()
    (root / "bin" / "busybox").write_bytes(b"\x7fELF" + os.urandom(5000))
    os.chmod(root / "bin" / "busybox", 0o4755)
    os.symlink("busybox", root / "bin" / "sh")
    os.symlink("/bin/busybox", root / "bin" / "abs")
    os.link(root / "bin" / "busybox", root / "bin" / "hardlinked")
    (root / "empty").mkdir(mode=0o700)
    long_path = root / LONG_NAME
    long_path.parent.mkdir(parents=True)
    long_path.write_bytes(b"long\n")
    uni = root / UNICODE_NAME
    uni.parent.mkdir(parents=True)
    uni.write_bytes(b"unicode\n")
    os.mkfifo(root / "fifo")
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (1_500_000_000, 1_500_000_000), follow_symlinks=False)
    return root


def tar_bytes(root: Path, **kwargs) -> bytes:
    out = io.BytesIO()
    write_tree(root, out, **kwargs)
    return out.getvalue()


def test_same_tree_twice_gives_same_bytes(tmp_path):
    root = make_tree(tmp_path / "a")
    assert tar_bytes(root) == tar_bytes(root)


def test_copy_with_other_atimes_and_inodes_gives_same_digest(tmp_path):
    root = make_tree(tmp_path / "a")
    copy = tmp_path / "b"
    subprocess.run(["cp", "-a", str(root), str(copy)], check=True)  # new inodes, same metadata
    for dirpath, dirnames, filenames in os.walk(copy):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            mtime = os.lstat(path).st_mtime_ns
            os.utime(path, ns=(1_700_000_000_000_000_000, mtime), follow_symlinks=False)  # other atime
    os.utime(copy, (1, 1))
    assert tar_bytes(root) == tar_bytes(copy)


def test_source_date_epoch_clamps_newer_mtimes_only(tmp_path):
    root = tmp_path / "r"
    root.mkdir()
    (root / "old").write_text("o")
    (root / "new").write_text("n")
    os.utime(root / "old", (100, 100))
    os.utime(root / "new", (2_000_000_000, 2_000_000_000))
    with tarfile.open(fileobj=io.BytesIO(tar_bytes(root, source_date_epoch=1_000_000))) as tar:
        mtimes = {m.name: m.mtime for m in tar}
    assert mtimes == {"new": 1_000_000, "old": 100}


def test_entries_sorted_parents_first_numeric_ids(tmp_path):
    root = make_tree(tmp_path / "a")
    with tarfile.open(fileobj=io.BytesIO(tar_bytes(root))) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names.index("bin") < names.index("bin/busybox") < names.index("bin/sh") < names.index("etc")
    assert all(m.uname == "" and m.gname == "" for m in members)
    assert {m.uid for m in members} == {os.getuid()}
    assert "fifo" in names
    by_name = {m.name: m for m in members}
    assert by_name["bin/busybox"].mode == 0o4755
    assert by_name["bin/hardlinked"].islnk() and by_name["bin/hardlinked"].linkname == "bin/busybox"
    assert by_name["bin/sh"].issym() and by_name["bin/sh"].linkname == "busybox"
    assert by_name["bin/abs"].linkname == "/bin/busybox"
    assert by_name["empty"].mode == 0o700


def test_long_and_unicode_names_round_trip_through_gnu_tar(tmp_path):
    root = make_tree(tmp_path / "a")
    layer = tmp_path / "layer.tar"
    write_layer(root, layer)
    listing = subprocess.run(["tar", "-tvf", str(layer)], check=True, capture_output=True,
                             env={**os.environ, "LC_ALL": "C.UTF-8"}).stdout.decode()
    assert LONG_NAME in listing
    assert UNICODE_NAME in listing
    assert "bin/hardlinked link to bin/busybox" in listing
    with tarfile.open(layer) as tar:
        names = tar.getnames()
    assert LONG_NAME in names and UNICODE_NAME in names
    out = tmp_path / "gnu"
    out.mkdir()
    subprocess.run(["tar", "-xpf", str(layer), "-C", str(out)], check=True)  # -p: keep setuid as non-root
    assert (out / LONG_NAME).read_bytes() == b"long\n"
    assert (out / UNICODE_NAME).read_bytes() == b"unicode\n"
    assert os.readlink(out / "bin" / "sh") == "busybox"
    assert os.stat(out / "bin" / "hardlinked").st_ino == os.stat(out / "bin" / "busybox").st_ino
    assert tree_digest(out) == tree_digest(root)


def test_undecodable_name_round_trips(tmp_path):
    root = tmp_path / "r"
    root.mkdir()
    raw = b"caf\xe9-latin1"
    with open(os.path.join(os.fsencode(root), raw), "wb") as f:
        f.write(b"x")
    layer = tmp_path / "l.tar"
    write_layer(root, layer)
    out = tmp_path / "gnu"
    out.mkdir()
    subprocess.run(["tar", "-xf", str(layer), "-C", str(out)], check=True)
    assert os.listdir(os.fsencode(out)) == [raw]
    with tarfile.open(layer, encoding="utf-8", errors="surrogateescape") as tar:
        assert os.fsencode(tar.getnames()[0]) == raw


def test_user_xattrs_round_trip_and_overlay_markers_dropped(tmp_path):
    root = tmp_path / "r"
    root.mkdir()
    if not user_xattrs_supported(root):
        pytest.skip("filesystem without user xattrs")
    (root / "f").write_text("x")
    os.setxattr(root / "f", "user.mime_type", b"text/plain")
    os.setxattr(root / "f", "user.binary", b"\x00\xff\x10")
    os.setxattr(root / "f", "user.overlay.origin", b"junk")
    with tarfile.open(fileobj=io.BytesIO(tar_bytes(root)), encoding="utf-8", errors="surrogateescape") as tar:
        headers = tar.getmember("f").pax_headers
    assert headers["SCHILY.xattr.user.mime_type"] == "text/plain"
    assert headers["SCHILY.xattr.user.binary"].encode("utf-8", "surrogateescape") == b"\x00\xff\x10"
    assert not any("overlay" in key for key in headers)
    layer = tmp_path / "l.tar"
    write_layer(root, layer)
    out = tmp_path / "gnu"
    out.mkdir()
    subprocess.run(["tar", "--xattrs", "--xattrs-include=user.*", "-xf", str(layer), "-C", str(out)], check=True)
    assert os.getxattr(out / "f", "user.mime_type") == b"text/plain"
    assert os.getxattr(out / "f", "user.binary") == b"\x00\xff\x10"


def test_sockets_are_skipped(tmp_path):
    root = tmp_path / "r"
    root.mkdir()
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(root / "sock"))
        (root / "file").write_text("x")
        with tarfile.open(fileobj=io.BytesIO(tar_bytes(root))) as tar:
            assert tar.getnames() == ["file"]
    finally:
        sock.close()


def test_prefix_writes_root_dir_and_id_map_applies(tmp_path):
    root = tmp_path / "r"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "x").write_text("x")
    data = tar_bytes(root, prefix="/app/", id_map=lambda uid, gid: (uid + 1000, gid + 2000))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["app", "app/sub", "app/sub/x"]
    assert {(m.uid, m.gid) for m in members} == {(os.getuid() + 1000, os.getgid() + 2000)}


def test_skip_excludes_subtrees(tmp_path):
    root = tmp_path / "r"
    (root / "proc" / "x").mkdir(parents=True)
    (root / "keep").write_text("k")
    data = tar_bytes(root, skip=lambda name: name == "proc")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == ["keep"]


def test_writer_entry_api_and_refusals():
    out = io.BytesIO()
    w = LayerTarWriter(out, source_date_epoch=50)
    w.add_dir("usr/", mode=0o755, mtime=10)
    w.add_file("usr/f", io.BytesIO(b"hello"), size=5, mode=0o600, uid=7, gid=8, mtime=99,
               xattrs={"user.a": b"1"})
    w.add_symlink("usr/l", "/usr/f")
    w.add_hardlink("usr/h", "usr/f")
    w.add_device("dev/null", kind="char", major=1, minor=3, mode=0o666)
    w.add_fifo("run/fifo")
    w.add_whiteout("usr/gone")
    w.add_opaque("var")
    with pytest.raises(LayerError, match=r"\.wh\."):
        w.add_file("x/.wh.sneaky", io.BytesIO(b""), size=0)
    with pytest.raises(LayerError, match=r"\.\."):
        w.add_file("../evil", io.BytesIO(b""), size=0)
    with pytest.raises(LayerError, match="early"):
        w.add_file("short", io.BytesIO(b"abc"), size=10)
    w.close()
    # The failed entry left a header behind: the caller discards such a layer. Read up to it.
    with tarfile.open(fileobj=io.BytesIO(out.getvalue()), mode="r|") as tar:
        seen = []
        for m in tar:
            seen.append((m.name, m.type, m.mtime))
            if m.name == "usr/f":
                assert tar.extractfile(m).read() == b"hello"
                assert (m.uid, m.gid, m.mode) == (7, 8, 0o600)
                assert m.pax_headers["SCHILY.xattr.user.a"] == "1"
            if m.name == "short":
                break
    assert seen[:8] == [
        ("usr", tarfile.DIRTYPE, 10), ("usr/f", tarfile.REGTYPE, 50), ("usr/l", tarfile.SYMTYPE, 0),
        ("usr/h", tarfile.LNKTYPE, 0), ("dev/null", tarfile.CHRTYPE, 0), ("run/fifo", tarfile.FIFOTYPE, 0),
        ("usr/.wh.gone", tarfile.REGTYPE, 0), ("var/.wh..wh..opq", tarfile.REGTYPE, 0)]


@pytest.mark.parametrize("name,typeflag,fields", [
    ("etc/passwd", tarfile.REGTYPE, dict(size=1234, mode=0o644, mtime=1_700_000_000)),
    ("x/" * 70, tarfile.DIRTYPE, dict(mode=0o755, mtime=5, uid=1000, gid=1000)),
    ("big", tarfile.REGTYPE, dict(size=9 * 2**30, mode=0o644, mtime=1, uid=3_000_000, gid=4_000_000)),
    ("dev/sda", tarfile.BLKTYPE, dict(mode=0o660, mtime=1, devmajor=8, devminor=0)),
    ("l", tarfile.SYMTYPE, dict(mode=0o777, mtime=1, linkname="/" + "t" * 200)),
], ids=["plain", "long-dir", "huge-file-and-ids", "block-device", "long-link"])
def test_header_encoder_matches_tarfile(name, typeflag, fields):
    info = tarfile.TarInfo(name)
    info.type = typeflag
    info.uname = info.gname = ""
    for key, value in fields.items():
        setattr(info, key, value)
    expected = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    got = th.encode_header(name.encode(), typeflag, mode=info.mode, uid=info.uid, gid=info.gid,
                           mtime=info.mtime, size=info.size, linkname=info.linkname.encode(),
                           devmajor=info.devmajor, devminor=info.devminor)
    assert got == expected
    with tarfile.open(fileobj=io.BytesIO(got + bytes(1024)), mode="r|") as tar:
        member = tar.next()
        assert (member.size, member.uid, member.gid) == (info.size, info.uid, info.gid)
