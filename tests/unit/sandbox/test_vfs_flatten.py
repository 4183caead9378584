"""The vfs driver's copy of overlay-style lower dirs into one plain tree."""

from __future__ import annotations

import os

from rootless_build.sandbox.vfs import flatten_into, populate


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


def snapshot(root):
    result = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                result[rel] = "->" + os.readlink(path)
            elif os.path.isdir(path):
                result[rel] = None
            else:
                result[rel] = open(path).read()
    return result


def test_whiteouts_opaque_dirs_and_type_changes(tmp_path):
    bottom = tree(tmp_path / "bottom", {
        "etc/a": "1", "etc/b": "2", "data/old": "o", "gone/x": "x", "was_file": "f",
        "was_dir/y": "y", "hard": "h"})
    os.link(bottom / "hard", bottom / "hard2")
    top = tree(tmp_path / "top", {
        "etc/.wh.a": "", "etc/c": "3", "data/.wh..wh..opq": "", "data/new": "n", ".wh.gone": "",
        "was_file/z": "z", "was_dir": "now a file", "link": "->etc/c"})
    out = tmp_path / "out"
    flatten_into([top, bottom], out)
    assert snapshot(out) == {
        "etc": None, "etc/b": "2", "etc/c": "3", "data": None, "data/new": "n",
        "was_file": None, "was_file/z": "z", "was_dir": "now a file", "link": "->etc/c",
        "hard": "h", "hard2": "h"}
    assert os.stat(out / "hard").st_ino == os.stat(out / "hard2").st_ino


def test_populate_keeps_a_used_copy(tmp_path):
    lower = tree(tmp_path / "lower", {"f": "1"})
    full = tmp_path / "full"
    populate([lower], full)
    (full / "f").write_text("changed")
    populate([lower], full)
    assert (full / "f").read_text() == "changed"


def test_modes_and_times_are_kept(tmp_path):
    lower = tree(tmp_path / "lower", {"bin/tool": "t"})
    os.chmod(lower / "bin/tool", 0o4755)
    os.utime(lower / "bin", ns=(1, 7 * 10**9))
    out = tmp_path / "out"
    flatten_into([lower], out)
    assert os.stat(out / "bin/tool").st_mode & 0o7777 == 0o4755
    assert os.stat(out / "bin").st_mtime_ns == 7 * 10**9
