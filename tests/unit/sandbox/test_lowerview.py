"""The merged view of lower dirs, read without mounting: whiteouts and opaque dirs."""

from __future__ import annotations

import os

import pytest

from rootless_build.sandbox.lowerview import is_opaque, merged_lookup


def tree(root, entries):
    for rel, content in entries.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir(exist_ok=True)
        elif content.startswith("->"):
            os.symlink(content[2:], path)
        else:
            path.write_text(content)
    return root


@pytest.fixture
def layers(tmp_path):
    bottom = tree(tmp_path / "bottom", {
        "etc/hosts": "h", "etc/passwd": "p", "data/a": "a", "old/x": "x", "link": "->/etc",
        "file": "f", "deep/er/most": "m"})
    top = tree(tmp_path / "top", {
        "etc/.wh.hosts": "", "data/.wh..wh..opq": "", "data/b": "b", "file": None,
        ".wh.old": ""})
    return [top, bottom]


@pytest.mark.parametrize("path,kind", [
    ("etc", "dir"), ("etc/passwd", "file"), ("etc/hosts", "absent"), ("data/a", "absent"),
    ("data/b", "file"), ("old", "absent"), ("old/x", "absent"), ("link", "symlink"),
    ("link/passwd", "blocked"), ("file", "dir"), ("deep/er/most", "file"), ("nothing", "absent"),
    ("etc/passwd/x", "blocked"), ("", "dir"),
])
def test_lookup(layers, path, kind):
    assert merged_lookup(layers, path)[0] == kind


def test_lookup_gives_the_top_most_entry(layers, tmp_path):
    assert merged_lookup(layers, "data")[1] == str(tmp_path / "top" / "data")
    assert merged_lookup(layers, "etc/passwd")[1] == str(tmp_path / "bottom" / "etc" / "passwd")


def test_opaque_by_user_xattr(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    assert not is_opaque(d)
    try:
        os.setxattr(d, "user.overlay.opaque", b"y")
    except OSError:
        pytest.skip("no user xattrs on this filesystem")
    assert is_opaque(d)
    lower = tree(tmp_path / "lower", {"d/hidden": "h"})
    assert merged_lookup([tmp_path, lower], "d/hidden")[0] == "absent"
