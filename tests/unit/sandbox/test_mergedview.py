"""RUN --mount=from= sources: the merged view of lower dirs resolves symlinks with the one
resolver (issue 12) and shows a path without the caller knowing what a whiteout is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rootless_build.errors import SandboxError
from rootless_build.sandbox.mergedview import MergedView


@pytest.fixture
def lowers(tmp_path: Path) -> list[Path]:
    bottom, top = tmp_path / "bottom", tmp_path / "top"
    (bottom / "usr" / "lib").mkdir(parents=True)
    (bottom / "usr" / "lib" / "x").write_text("x")
    top.mkdir()
    os.symlink("usr/lib", top / "lib")  # the upper layer adds links over the lower's dirs
    os.symlink("/usr/lib/x", top / "abs")
    os.symlink("../../../usr", top / "up")
    os.symlink("loop", top / "loop")
    return [top, bottom]  # top-most first


@pytest.mark.parametrize("path,expected", [
    ("lib/x", "usr/lib/x"),
    ("abs", "usr/lib/x"),
    ("up/lib", "usr/lib"),  # '..' stops at the root
    ("usr/../lib", "usr/lib"),
    ("missing/y", "missing/y"),
])
def test_links_resolve_inside_the_merged_view(lowers, path, expected):
    assert MergedView(lowers).resolve(path) == expected


def test_a_link_loop_is_one_error(lowers):
    with pytest.raises(SandboxError, match="too many levels of symbolic links"):
        MergedView(lowers).resolve("loop")


@pytest.fixture
def whited(tmp_path: Path) -> list[Path]:
    """A top layer deleting usr/lib/gone (a .wh. file) over a bottom one."""
    bottom, top = tmp_path / "wbottom", tmp_path / "wtop"
    (bottom / "usr" / "lib").mkdir(parents=True)
    (bottom / "usr" / "lib" / "kept").write_text("k")
    (bottom / "usr" / "lib" / "gone").write_text("g")
    (bottom / "etc").mkdir()
    (bottom / "etc" / "conf").write_text("c")
    (top / "usr" / "lib").mkdir(parents=True)
    (top / "usr" / "lib" / ".wh.gone").write_text("")
    (top / "usr" / "lib" / "new").write_text("n")
    os.symlink("usr/lib", top / "lib")
    return [top, bottom]


def test_a_directory_one_layer_makes_is_shown_in_place(whited, tmp_path):
    assert MergedView(whited).show("/etc", tmp_path / "scratch") == whited[1] / "etc"
    assert not (tmp_path / "scratch").exists()


def test_a_directory_with_whiteouts_is_a_flattened_copy(whited, tmp_path):
    shown = MergedView(whited).show("lib", tmp_path / "scratch")     # through the top's link
    assert shown == tmp_path / "scratch"
    assert sorted(os.listdir(shown)) == ["kept", "new"]


def test_a_file_is_its_host_path_and_missing_ones_none(whited, tmp_path):
    view = MergedView(whited)
    assert view.show("lib/kept", tmp_path / "s") == whited[1] / "usr" / "lib" / "kept"
    assert view.show("usr/lib/gone", tmp_path / "s") is None
    assert view.show("etc/conf/x", tmp_path / "s") is None     # below a file
    assert [view.kind(p) for p in ("lib", "lib/new", "lib/gone", "etc/conf/x")] == ["dir", "file", "absent", "absent"]


def test_copy_dir_applies_the_whiteouts(whited, tmp_path):
    MergedView(whited).copy_dir("usr/lib", tmp_path / "copy")
    assert sorted(os.listdir(tmp_path / "copy")) == ["kept", "new"]
