"""copy-up's path resolution stays inside the root, and the copy keeps what is there."""

from __future__ import annotations

import os

from rootless_build.sandbox.copyup import copy_up, resolve_in_root


def test_symlinks_resolve_inside_the_root(tmp_path) -> None:
    root = tmp_path / "root"
    (root / "real" / "dir").mkdir(parents=True)
    os.symlink("/real", root / "abs")
    os.symlink("../../../../real", root / "climb")
    os.symlink("loop", root / "loop")
    assert resolve_in_root(str(root), "/abs/dir") == str(root / "real" / "dir")
    assert resolve_in_root(str(root), "/climb/dir") == str(root / "real" / "dir")
    assert resolve_in_root(str(root), "/../../real") == str(root / "real")
    assert resolve_in_root(str(root), "/missing/x") is None
    assert resolve_in_root(str(root), "/loop") is None


def test_copy_up_fills_only_an_empty_volume(tmp_path) -> None:
    root = tmp_path / "root"
    (root / "data" / "sub").mkdir(parents=True)
    (root / "data" / "sub" / "f").write_text("image\n")
    os.symlink("sub/f", root / "data" / "link")
    os.chmod(root / "data", 0o750)
    volume = tmp_path / "vol" / "_data"
    volume.mkdir(parents=True)
    copy_up(str(root), "/data", str(volume))
    assert (volume / "sub" / "f").read_text() == "image\n"
    assert os.readlink(volume / "link") == "sub/f"
    assert oct(volume.stat().st_mode & 0o777) == oct(0o750)
    assert os.listdir(tmp_path / "vol") == ["_data"]        # no staging dir left
    (root / "data" / "sub" / "f").write_text("changed\n")
    copy_up(str(root), "/data", str(volume))                # not empty: left alone
    assert (volume / "sub" / "f").read_text() == "image\n"
    empty = tmp_path / "other"
    empty.mkdir()
    copy_up(str(root), "/nothing-there", str(empty))
    assert os.listdir(empty) == []
