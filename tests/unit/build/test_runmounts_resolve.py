"""RUN --mount=from= sources resolve symlinks in the merged lower dirs with fstree's one
resolver (issue 12: one symlink resolver)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rootless_build.builder.runmounts import resolve_in_lowers
from rootless_build.errors import BuildError


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
    assert resolve_in_lowers(lowers, path) == expected


def test_a_link_loop_is_one_error(lowers):
    with pytest.raises(BuildError, match="too many levels of symbolic links"):
        resolve_in_lowers(lowers, "loop")
