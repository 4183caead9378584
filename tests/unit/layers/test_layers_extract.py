"""Extraction semantics: whiteouts, opaque dirs, permissions, replacement, ownership."""

from __future__ import annotations

import io
import os
import stat
import subprocess

import pytest
from conftest import (
    IS_ROOT,
    TarBuilder,
    can_make_whiteout_device,
    sha256_file,
    tree_digest,
    user_xattrs_supported,
    write_layer,
)

from rootless_build.errors import LayerError
from rootless_build.layers.extract import extract_layer


def lower_rootfs(target):
    base = (TarBuilder().dir("etc").file("etc/motd", b"hi").file("etc/shadow", b"s")
            .dir("var").dir("var/cache").file("var/cache/old", b"o").dir("var/cache/sub")
            .file("var/cache/sub/deep", b"d").file("var/keep", b"k"))
    extract_layer(base.stream(), target)


def test_whiteout_deletes_lower_entries(tmp_path):
    target = tmp_path / "rootfs"
    target.mkdir()
    lower_rootfs(target)
    layer = TarBuilder().file("etc/.wh.motd", b"").file("var/.wh.cache", b"").file(".wh.absent", b"")
    stats = extract_layer(layer.stream(), target)
    assert not (target / "etc" / "motd").exists()
    assert not (target / "var" / "cache").exists()
    assert (target / "etc" / "shadow").exists() and (target / "var" / "keep").exists()
    assert stats.whiteouts == 3


def test_whiteout_never_deletes_an_entry_of_its_own_layer(tmp_path):
    target = tmp_path / "rootfs"
    target.mkdir()
    lower_rootfs(target)
    layer = TarBuilder().file("etc/motd", b"new").file("etc/.wh.motd", b"")
    extract_layer(layer.stream(), target)
    assert (target / "etc" / "motd").read_bytes() == b"new"


def test_opaque_hides_lower_entries_but_keeps_this_layers(tmp_path):
    target = tmp_path / "rootfs"
    target.mkdir()
    lower_rootfs(target)
    # This layer's own entries come before and after the marker; lower ones all go.
    layer = (TarBuilder().dir("var/cache").file("var/cache/early", b"e").dir("var/cache/sub")
             .file("var/cache/.wh..wh..opq", b"").file("var/cache/late", b"l"))
    stats = extract_layer(layer.stream(), target)
    assert sorted(os.listdir(target / "var" / "cache")) == ["early", "late", "sub"]
    assert os.listdir(target / "var" / "cache" / "sub") == []  # lower `deep` hidden too
    assert (target / "var" / "keep").exists()
    assert stats.opaques == 1


def test_overlay_mode_writes_kernel_whiteouts(tmp_path):
    layer_dir = tmp_path / "layer"
    layer_dir.mkdir()
    if not can_make_whiteout_device(layer_dir):
        pytest.skip("cannot create 0/0 character devices here")
    layer = TarBuilder().dir("etc").file("etc/.wh.motd", b"").file("etc/new", b"n")
    extract_layer(layer.stream(), layer_dir, mode="overlay")
    st = os.lstat(layer_dir / "etc" / "motd")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert (layer_dir / "etc" / "new").read_bytes() == b"n"


def test_overlay_mode_marks_opaque_dirs_and_copies_lower_dir_metadata(tmp_path):
    lower = tmp_path / "lower"
    lower.mkdir()
    (lower / "srv").mkdir(mode=0o750)
    (lower / "srv" / "data").write_bytes(b"lower file")
    os.utime(lower / "srv", (1234, 1234))
    layer_dir = tmp_path / "layer"
    layer_dir.mkdir()
    if not user_xattrs_supported(layer_dir):
        pytest.skip("filesystem without user xattrs")
    layer = (TarBuilder().dir("opt").file("opt/.wh..wh..opq", b"").file("opt/app", b"a")
             .file("srv/new", b"n").hardlink("srv/link", "srv/data"))
    extract_layer(layer.stream(), layer_dir, mode="overlay", lower_dirs=[lower])
    assert os.getxattr(layer_dir / "opt", "user.overlay.opaque") == b"y"
    assert (layer_dir / "opt" / "app").exists()
    # `srv` was not in the tar: it copies the lower directory's metadata, not 0755/now.
    st = os.stat(layer_dir / "srv")
    assert stat.S_IMODE(st.st_mode) == 0o750 and st.st_mtime == 1234
    # A hard link to a file of a lower layer shares (or copies) it.
    assert (layer_dir / "srv" / "link").read_bytes() == b"lower file"


def test_overlay_mode_follows_symlinks_of_lower_layers_like_the_merged_view(tmp_path):
    lower = tmp_path / "lower"
    (lower / "usr" / "lib").mkdir(parents=True)
    os.chmod(lower / "usr" / "lib", 0o750)
    os.symlink("usr/lib", lower / "lib")
    os.symlink("/usr/lib", lower / "lib64")
    layer_dir = tmp_path / "layer"
    layer_dir.mkdir()
    layer = TarBuilder().file("lib/libfoo.so", b"foo").file("lib64/libbar.so", b"bar")
    extract_layer(layer.stream(), layer_dir, mode="overlay", lower_dirs=[lower])
    # Written where the merged view's /lib leads, not into a new `lib` dir hiding the symlink.
    assert (layer_dir / "usr" / "lib" / "libfoo.so").read_bytes() == b"foo"
    assert (layer_dir / "usr" / "lib" / "libbar.so").read_bytes() == b"bar"
    assert not (layer_dir / "lib").exists() and not (layer_dir / "lib64").exists()
    assert stat.S_IMODE(os.stat(layer_dir / "usr" / "lib").st_mode) == 0o750
    # A whiteout in a higher lower layer hides the symlink: then `lib` is a new directory.
    upper_lower = tmp_path / "lower2"
    upper_lower.mkdir()
    if can_make_whiteout_device(upper_lower):
        os.mknod(upper_lower / "lib", stat.S_IFCHR | 0o600, os.makedev(0, 0))
        fresh = tmp_path / "layer2"
        fresh.mkdir()
        extract_layer(TarBuilder().file("lib/x", b"x").stream(), fresh, mode="overlay",
                      lower_dirs=[upper_lower, lower])
        assert (fresh / "lib" / "x").read_bytes() == b"x"
        assert not (fresh / "usr").exists()


def test_modes_times_and_unwritable_directories(tmp_path):
    target = tmp_path / "t"
    target.mkdir()
    layer = (TarBuilder().dir("ro", mode=0o555, mtime=1000).file("ro/f", b"x", mode=0o400, mtime=2000)
             .dir("ro/sub", mode=0o500, mtime=3000).file("ro/sub/g", b"y", mode=0o4755, mtime=4000)
             .dir("locked", mode=0o000, mtime=5000))
    extract_layer(layer.stream(), target)
    for rel, mode, mtime in [("ro", 0o555, 1000), ("ro/f", 0o400, 2000), ("ro/sub", 0o500, 3000),
                             ("ro/sub/g", 0o4755, 4000), ("locked", 0o000, 5000)]:
        st = os.lstat(target / rel)
        assert (rel, stat.S_IMODE(st.st_mode), st.st_mtime) == (rel, mode, mtime)
    # A later layer can still write into (and delete from) the read-only directories.
    extract_layer(TarBuilder().file("ro/sub/h", b"z").file("ro/.wh.f", b"").stream(), target)
    assert (target / "ro" / "sub" / "h").read_bytes() == b"z"
    assert not (target / "ro" / "f").exists()
    assert stat.S_IMODE(os.lstat(target / "ro").st_mode) == 0o555
    os.chmod(target / "locked", 0o700)
    for dirpath, dirnames, _ in os.walk(target):
        for d in dirnames:
            os.chmod(os.path.join(dirpath, d), 0o700)


def test_replacement_rules(tmp_path):
    target = tmp_path / "t"
    target.mkdir()
    base = (TarBuilder().dir("d").file("d/inner", b"i").file("f", b"file").dir("kept", mode=0o700)
            .file("kept/old", b"o").symlink("s", "/nowhere"))
    extract_layer(base.stream(), target)
    layer = (TarBuilder().file("d", b"now a file").dir("f").file("f/child", b"c")
             .dir("kept", mode=0o755, mtime=42).dir("s"))
    extract_layer(layer.stream(), target)
    assert (target / "d").read_bytes() == b"now a file"
    assert (target / "f" / "child").read_bytes() == b"c"
    assert (target / "kept" / "old").read_bytes() == b"o"  # dir over dir keeps contents
    assert stat.S_IMODE(os.stat(target / "kept").st_mode) == 0o755
    assert os.stat(target / "kept").st_mtime == 42
    assert (target / "s").is_dir() and not (target / "s").is_symlink()


def test_xattrs_applied(tmp_path):
    target = tmp_path / "t"
    target.mkdir()
    if not user_xattrs_supported(target):
        pytest.skip("filesystem without user xattrs")
    t = TarBuilder()
    import tarfile

    info = tarfile.TarInfo("f")
    info.size = 1
    info.pax_headers = {"SCHILY.xattr.user.k": "v", "SCHILY.xattr.user.overlay.redirect": "/evil",
                        "SCHILY.xattr.trusted.something": "t"}
    t.tar.addfile(info, io.BytesIO(b"x"))
    warnings = []
    extract_layer(t.stream(), target, on_warning=warnings.append)
    assert os.getxattr(target / "f", "user.k") == b"v"
    assert "user.overlay.redirect" not in os.listxattr(target / "f")
    if not IS_ROOT:
        assert any("trusted.something" in w for w in warnings)


def test_chown_to_tar_ids(tmp_path):
    target = tmp_path / "t"
    target.mkdir()
    layer = TarBuilder().dir("home", uid=1234, gid=5678).file("home/f", b"x", uid=1234, gid=5678, mode=0o2755)
    if IS_ROOT:
        extract_layer(layer.stream(), target, chown=True)
        st = os.lstat(target / "home" / "f")
        assert (st.st_uid, st.st_gid) == (1234, 5678)
        assert stat.S_IMODE(st.st_mode) == 0o2755  # chmod after chown keeps setgid
        assert os.lstat(target / "home").st_uid == 1234
    else:
        with pytest.raises(LayerError, match=r"'home'.*1234:5678"):
            extract_layer(layer.stream(), target, chown=True)
    # Without chown the ids are ignored and the caller owns everything.
    other = tmp_path / "o"
    other.mkdir()
    extract_layer(layer.stream(), other, chown=False)
    assert os.lstat(other / "home" / "f").st_uid == os.geteuid()


_IN_USERNS = """
import sys
from rootless_build.errors import LayerError
from rootless_build.layers.extract import extract_layer
try:
    with open(sys.argv[1], "rb") as f:
        extract_layer(f, sys.argv[2], chown=True)
except LayerError as e:
    print(e)
    sys.exit(3)
"""


def test_chown_inside_a_user_namespace_names_unmapped_ids(tmp_path):
    """In `unshare --map-root-user` only id 0 is mapped: 0 works, 1234 must say why it fails."""
    import sys

    probe = subprocess.run(["unshare", "--user", "--map-root-user", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("unprivileged user namespaces are not available")
    ok = tmp_path / "ok.tar"
    ok.write_bytes(TarBuilder().dir("etc").file("etc/f", b"x").bytes())
    bad = tmp_path / "bad.tar"
    bad.write_bytes(TarBuilder().dir("home").file("home/f", b"x", uid=1234, gid=1234).bytes())
    for tar, code in ((ok, 0), (bad, 3)):
        target = tmp_path / f"t-{tar.stem}"
        target.mkdir()
        run = subprocess.run(["unshare", "--user", "--map-root-user", sys.executable, "-c", _IN_USERNS,
                              str(tar), str(target)], capture_output=True, text=True)
        assert run.returncode == code, run.stderr
    assert "'home/f'" in run.stdout and "1234:1234" in run.stdout
    assert "insufficient UIDs or GIDs" in run.stdout
    assert os.lstat(tmp_path / "t-ok" / "etc" / "f").st_uid == os.geteuid()  # container root = us


@pytest.mark.skipif(not IS_ROOT, reason="security.capability needs CAP_SETFCAP")
def test_file_capabilities_round_trip(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "ping").write_bytes(b"\x7fELF")
    cap_net_raw_v2 = bytes.fromhex("01000002" "00200000" "00000000" "00000000" "00000000")
    try:
        os.setxattr(src / "ping", "security.capability", cap_net_raw_v2)
    except OSError:
        pytest.skip("filesystem refuses file capabilities")
    layer = tmp_path / "layer"
    write_layer(src, layer)
    out = tmp_path / "out"
    out.mkdir()
    with open(layer, "rb") as f:
        extract_layer(f, out, chown=True)
    assert os.getxattr(out / "ping", "security.capability") == cap_net_raw_v2


def test_v3_capabilities_lose_their_host_root_id():
    from rootless_build.layers.xattrs import portable_capability

    v3 = bytes.fromhex("01000003" "00200000" "00000000" "00000000" "00000000" "a0860100")  # rootid 100000
    assert portable_capability(v3) == bytes.fromhex("01000002" "00200000" "00000000" "00000000" "00000000")
    assert portable_capability(b"\x00" * 20) == b"\x00" * 20


@pytest.mark.parametrize("compression", ["", "gzip", "zstd"])
def test_round_trip_write_extract_write_is_identical(tmp_path, compression):
    src = tmp_path / "src"
    (src / "usr" / "bin").mkdir(parents=True)
    (src / "usr" / "bin" / "tool").write_bytes(os.urandom(300_000))
    os.chmod(src / "usr" / "bin" / "tool", 0o755)
    os.link(src / "usr" / "bin" / "tool", src / "usr" / "bin" / "alias")
    os.symlink("usr/bin", src / "bin")
    (src / "ro").mkdir(mode=0o555)
    os.mkfifo(src / "fifo")
    layer = tmp_path / "layer"
    result = write_layer(src, layer, compression)
    out = tmp_path / "out"
    out.mkdir()
    with open(layer, "rb") as f:
        stats = extract_layer(f, out, compute_diff_id=True)
    assert stats.diff_id == result.diff_id
    assert result.digest == sha256_file(layer)
    assert tree_digest(out) == tree_digest(src)
    assert os.lstat(out / "usr" / "bin" / "alias").st_ino == os.lstat(out / "usr" / "bin" / "tool").st_ino
    # and GNU tar agrees on the content
    gnu = tmp_path / "gnu"
    gnu.mkdir()
    decompress = {"": "cat", "gzip": "gzip -dc", "zstd": "zstd -dc"}[compression]
    subprocess.run(["sh", "-c", f"{decompress} {layer} | tar -xpf - -C {gnu}"], check=True)
    assert tree_digest(gnu) == tree_digest(src)
    os.chmod(out / "ro", 0o755)
    os.chmod(gnu / "ro", 0o755)


def test_root_entry_and_dot_slash_names(tmp_path):
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "f").write_text("x")
    tar = tmp_path / "gnu.tar"
    subprocess.run(["tar", "-C", str(src), "-cf", str(tar), "."], check=True)  # ./ ./a ./a/f
    out = tmp_path / "out"
    out.mkdir()
    with open(tar, "rb") as f:
        stats = extract_layer(f, out)
    assert (out / "a" / "f").read_text() == "x"
    assert stats.dirs == 1 and stats.files == 1


@pytest.mark.parametrize("fmt", ["pax", "gnu"])
def test_gnu_tar_sparse_files(tmp_path, fmt):
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "sparse", "wb") as f:
        f.truncate(10 << 20)
        f.seek(5_000_000)
        f.write(b"hello")
    (src / "after").write_text("next entry")
    tar = tmp_path / "s.tar"
    subprocess.run(["tar", "--sparse", f"--format={fmt}", "-C", str(src), "-cf", str(tar), "."], check=True)
    out = tmp_path / "out"
    out.mkdir()
    with open(tar, "rb") as f:
        extract_layer(f, out)
    assert (out / "sparse").read_bytes() == (src / "sparse").read_bytes()
    assert (out / "after").read_text() == "next entry"


def test_unknown_mode_and_missing_target(tmp_path):
    with pytest.raises(LayerError):
        extract_layer(TarBuilder().stream(), tmp_path, mode="copy")
    with pytest.raises(LayerError, match="not a directory"):
        extract_layer(TarBuilder().stream(), tmp_path / "missing")
