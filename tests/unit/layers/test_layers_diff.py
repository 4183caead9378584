"""write_diff: the layer between a rootfs and its modified full copy (copy driver)."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile

from conftest import tree_digest

from rootless_build.layers.diff import write_diff
from rootless_build.layers.extract import extract_layer


def make_lower(root):
    (root / "etc" / "conf.d").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("box\n")
    (root / "etc" / "conf.d" / "a.conf").write_text("a\n")
    (root / "etc" / "conf.d" / "b.conf").write_text("b\n")
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "tool").write_text("v1")
    (root / "usr" / "bin" / "same").write_text("same")
    os.symlink("tool", root / "usr" / "bin" / "link")
    (root / "var" / "lib" / "old").mkdir(parents=True)
    (root / "var" / "lib" / "old" / "data").write_text("d")
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (1_000_000, 1_000_000), follow_symlinks=False)


def copy(src, dst):
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


def diff_names(lower, upper):
    out = io.BytesIO()
    write_diff(lower, upper, out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        return tar.getnames(), out.getvalue()


def test_unchanged_copy_gives_an_empty_layer(tmp_path):
    lower = tmp_path / "lower"
    make_lower(lower)
    upper = tmp_path / "upper"
    copy(lower, upper)
    names, data = diff_names(lower, upper)
    assert names == []
    assert len(data) == 1024  # just the end-of-archive blocks


def test_changes_become_entries_and_whiteouts_and_apply_back(tmp_path):
    lower = tmp_path / "lower"
    make_lower(lower)
    upper = tmp_path / "upper"
    copy(lower, upper)
    # What a RUN step might do:
    (upper / "usr" / "bin" / "tool").write_text("version 2")  # content + size + mtime
    os.chmod(upper / "etc" / "hostname", 0o600)  # metadata only
    os.unlink(upper / "etc" / "conf.d" / "b.conf")  # deletion
    subprocess.run(["rm", "-rf", str(upper / "var" / "lib" / "old")], check=True)  # directory deletion
    os.unlink(upper / "usr" / "bin" / "link")
    os.symlink("same", upper / "usr" / "bin" / "link")  # retargeted symlink
    (upper / "opt" / "new").mkdir(parents=True)
    (upper / "opt" / "new" / "file").write_text("n")
    os.link(upper / "opt" / "new" / "file", upper / "opt" / "new" / "hard")
    names, data = diff_names(lower, upper)
    assert names == [
        "etc", "etc/conf.d", "etc/conf.d/.wh.b.conf", "etc/hostname",
        "opt", "opt/new", "opt/new/file", "opt/new/hard",
        "usr", "usr/bin", "usr/bin/link", "usr/bin/tool",
        "var", "var/lib", "var/lib/.wh.old",
    ]
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getmember("opt/new/hard").islnk()
        assert tar.getmember("usr/bin/link").linkname == "same"
    # Applying the diff to a copy of the lower tree gives the upper tree.
    applied = tmp_path / "applied"
    copy(lower, applied)
    extract_layer(io.BytesIO(data), applied)
    assert tree_digest(applied) == tree_digest(upper)


def test_type_changes(tmp_path):
    lower = tmp_path / "lower"
    make_lower(lower)
    upper = tmp_path / "upper"
    copy(lower, upper)
    subprocess.run(["rm", "-rf", str(upper / "etc" / "conf.d")], check=True)
    (upper / "etc" / "conf.d").write_text("now a file")
    os.unlink(upper / "usr" / "bin" / "same")
    (upper / "usr" / "bin" / "same").mkdir()
    (upper / "usr" / "bin" / "same" / "inside").write_text("i")
    names, data = diff_names(lower, upper)
    assert "etc/conf.d" in names and "etc/conf.d/a.conf" not in names
    assert "usr/bin/same/inside" in names
    applied = tmp_path / "applied"
    copy(lower, applied)
    extract_layer(io.BytesIO(data), applied)
    assert tree_digest(applied) == tree_digest(upper)


def test_skip_and_source_date_epoch(tmp_path):
    lower = tmp_path / "lower"
    make_lower(lower)
    upper = tmp_path / "upper"
    copy(lower, upper)
    (upper / "proc").mkdir()
    (upper / "new").write_text("n")
    out = io.BytesIO()
    write_diff(lower, upper, out, skip=lambda name: name == "proc", source_date_epoch=10)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        assert [(m.name, m.mtime) for m in tar] == [("new", 10)]
