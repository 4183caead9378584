"""Malicious layers: refused with the entry named, and nothing written outside the target."""

from __future__ import annotations

import os
import stat

import pytest
from conftest import TarBuilder, sandbox_listing

from rootless_build.errors import LayerError
from rootless_build.layers.extract import extract_layer


def _escape_dotdot(t: TarBuilder):
    t.file("../evil")


def _absolute(t: TarBuilder):
    t.file("/etc/passwd", b"pwned")


def _nested_dotdot(t: TarBuilder):
    t.dir("a").file("a/../../x")


def _hardlink_absolute(t: TarBuilder):
    t.hardlink("passwd", "/etc/passwd")


def _hardlink_dotdot(t: TarBuilder):
    t.hardlink("h", "../x")


def _hardlink_absent(t: TarBuilder):
    t.hardlink("h", "not/there")


def _hardlink_dir(t: TarBuilder):
    t.dir("d").hardlink("h", "d")


def _char_device(t: TarBuilder):
    t.chardev("dev/mem", 1, 1)


def _whiteout_dotdot(t: TarBuilder):
    t.file("a/.wh..", b"")


def _parent_is_file(t: TarBuilder):
    t.file("f").file("f/x")


MALICIOUS = [
    ("../evil", _escape_dotdot, r"'\.\./evil'.*'\.\.' component refused"),
    ("/etc/passwd", _absolute, r"'/etc/passwd'.*absolute path refused"),
    ("a/../../x", _nested_dotdot, r"'a/\.\./\.\./x'.*'\.\.' component"),
    ("hardlink to /etc/passwd", _hardlink_absolute, r"'passwd'.*hard link target '/etc/passwd'.*absolute"),
    ("hardlink to ../x", _hardlink_dotdot, r"'h'.*hard link target '\.\./x'.*'\.\.'"),
    ("hardlink to absent entry", _hardlink_absent, r"'h'.*not/there.*neither in this layer nor below"),
    ("hardlink to a directory", _hardlink_dir, r"'h'.*directory"),
    ("char device", _char_device, r"'dev/mem'.*character device 1:1 refused"),
    ("whiteout of ..", _whiteout_dotdot, r"'a/\.wh\.\.'.*invalid whiteout"),
    ("parent is a file", _parent_is_file, r"'f/x'.*not a directory"),
]


@pytest.mark.parametrize("build,pattern", [(b, p) for _, b, p in MALICIOUS], ids=[i for i, _, _ in MALICIOUS])
def test_malicious_entries_refused(sandbox, build, pattern):
    t = TarBuilder()
    build(t)
    with pytest.raises(LayerError, match=pattern) as info:
        extract_layer(t.stream(), sandbox / "target")
    assert "\n" not in str(info.value)
    assert sandbox_listing(sandbox) == []


@pytest.mark.parametrize("mode", ["apply", "overlay"])
def test_symlink_to_root_then_write_through_it_stays_inside(sandbox, mode):
    # chroot semantics: `link -> /` means the target's root, as containerd resolves it.
    t = TarBuilder().symlink("link", "/").file("link/etc/x", b"inside")
    extract_layer(t.stream(), sandbox / "target", mode=mode)
    assert (sandbox / "target" / "etc" / "x").read_bytes() == b"inside"
    assert os.readlink(sandbox / "target" / "link") == "/"
    assert sandbox_listing(sandbox) == []


def test_relative_symlink_climbing_out_is_clamped_at_the_root(sandbox):
    t = TarBuilder().dir("a").dir("a/b").symlink("a/b/l", "../../../../..").file("a/b/l/x", b"clamped")
    extract_layer(t.stream(), sandbox / "target")
    assert (sandbox / "target" / "x").read_bytes() == b"clamped"
    assert sandbox_listing(sandbox) == []


def test_symlink_into_symlink_chain_and_loops(sandbox):
    t = (TarBuilder().dir("usr").dir("usr/lib").symlink("lib", "usr/lib").symlink("lib64", "/lib")
         .file("lib64/libc.so", b"c"))
    extract_layer(t.stream(), sandbox / "target")
    assert (sandbox / "target" / "usr" / "lib" / "libc.so").read_bytes() == b"c"
    loop = TarBuilder().symlink("a", "b").symlink("b", "a").file("a/x")
    with pytest.raises(LayerError, match=r"'a/x'.*too many levels"):
        extract_layer(loop.stream(), sandbox / "target")
    assert sandbox_listing(sandbox) == []


def test_final_symlink_is_replaced_not_followed(sandbox):
    outside = sandbox / "outside"
    outside.write_text("original")
    t = TarBuilder().symlink("f", str(outside)).file("f", b"replaced")
    extract_layer(t.stream(), sandbox / "target")
    assert outside.read_text() == "original"
    assert (sandbox / "target" / "f").read_bytes() == b"replaced"
    assert not (sandbox / "target" / "f").is_symlink()


def test_hardlink_to_symlink_pointing_outside_links_the_symlink(sandbox):
    t = TarBuilder().symlink("s", "/etc/passwd").hardlink("h", "s")
    extract_layer(t.stream(), sandbox / "target")
    assert os.readlink(sandbox / "target" / "h") == "/etc/passwd"
    assert os.lstat(sandbox / "target" / "h").st_ino == os.lstat(sandbox / "target" / "s").st_ino


def test_fifo_is_fine_and_devices_can_be_skipped_with_one_warning(sandbox):
    t = TarBuilder().fifo("run/fifo").chardev("dev/null", 1, 3).chardev("dev/zero", 1, 5).file("ok")
    warnings = []
    stats = extract_layer(t.stream(), sandbox / "target", skip_devices=True, on_warning=warnings.append)
    assert stat.S_ISFIFO(os.lstat(sandbox / "target" / "run" / "fifo").st_mode)
    assert not (sandbox / "target" / "dev" / "null").exists()
    assert stats.devices_skipped == 2
    assert len(warnings) == 1 and "dev/null" in warnings[0]
    assert (sandbox / "target" / "ok").exists()


def test_truncated_and_garbage_streams(sandbox):
    data = TarBuilder().file("big", b"x" * 100_000).bytes()
    with pytest.raises(LayerError, match="layer entry 'big'|malformed"):
        extract_layer(__import__("io").BytesIO(data[:50_000]), sandbox / "target")
    with pytest.raises(LayerError, match="malformed"):
        extract_layer(__import__("io").BytesIO(b"\x01" * 4096), sandbox / "target")
