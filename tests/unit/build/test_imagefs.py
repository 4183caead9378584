"""An image's merged filesystem read from its layer tars: whiteouts, opaque dirs, links."""

from __future__ import annotations

from imagehelpers import make_image

from rootless_build.builder import fstree
from rootless_build.builder.imagefs import ImageFS


def test_layers_merge_with_whiteouts_and_opaque_dirs(store):
    image = make_image(store, [
        [("a", "dir", None), ("a/old", "file", b"1"), ("a/keep", "file", b"2"),
         ("d", "dir", None), ("d/x", "file", b"x"), ("d/sub", "dir", None), ("d/sub/y", "file", b"y"),
         ("gone", "file", b"g")],
        [("a/.wh.old", "file", b""), ("d/.wh..wh..opq", "file", b""), ("d/new", "file", b"n"),
         (".wh.gone", "file", b"")],
    ])
    fs = ImageFS.of_image(store, image)
    assert fs.listdir("a") == ["keep"]
    assert fs.listdir("d") == ["new"]  # the opaque marker hid every lower child
    assert fs.node("d/sub/y") is None
    assert fs.node("gone") is None
    assert sorted(fs.listdir("")) == ["a", "d"]


def test_file_contents_and_hardlinks(store):
    image = make_image(store, [[("f", "file", b"hello"), ("h", "hardlink", "f")]])
    fs = ImageFS.of_image(store, image)
    node = fs.node("h")
    assert node.kind == fstree.FILE and node.size == 5
    with fs.open("h", node) as f:
        assert f.read(node.size) == b"hello"
    assert fs.node("f").ident == node.ident  # one inode: COPY writes a hardlink for the second


def test_symlinks_resolve_inside_the_image(store, base_image):
    fs = ImageFS.of_image(store, base_image)
    assert fstree.resolve(fs, "bin/tool") == "usr/bin/tool"
    assert fstree.resolve(fs, "bin", follow_last=False) == "bin"
    assert fstree.resolve(fs, "usr/../../../etc/passwd") == "etc/passwd"  # '..' stops at the root
    assert "app:x:1000" in fs.read_text("/etc/passwd")
    assert fs.node("tmp").mode == 0o1777


def test_missing_parent_directories_are_implied(store):
    image = make_image(store, [[("deep/er/file", "file", b"x")]])
    fs = ImageFS.of_image(store, image)
    assert fs.node("deep").kind == fstree.DIR
    assert fs.listdir("deep/er") == ["file"]
