"""layers.safeopen: no symlink is followed below the directory (openat2 and the fd walk
alike), and open_in_root resolves links as if the directory were `/`."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from rootless_build.layers import safeopen


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("inside")
    (tmp_path / "secret").write_text("outside")
    os.symlink(str(tmp_path / "secret"), root / "abs-link")
    os.symlink("a/b/f", root / "rel-link")
    os.symlink("a", root / "dir-link")
    os.symlink("../../secret", root / "a" / "up-link")
    return root


def _read(fd: int) -> str:
    with os.fdopen(fd, "rb") as f:
        return f.read().decode()


@pytest.fixture(params=["openat2", "walk"])
def mode(request, monkeypatch) -> str:
    if request.param == "walk":
        monkeypatch.setattr(safeopen, "_openat2_works", False)
    return request.param


def test_open_beneath_reads_plain_paths(tree, mode):
    root_fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert _read(safeopen.open_beneath(root_fd, "a/b/f")) == "inside"
        assert _read(safeopen.open_beneath(root_fd, "./a//b/f")) == "inside"
    finally:
        os.close(root_fd)


@pytest.mark.parametrize("path", ["abs-link", "rel-link", "dir-link/b/f", "a/up-link", "../secret"])
def test_open_beneath_refuses_every_symlink_and_dotdot(tree, mode, path):
    root_fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError) as caught:
            os.close(safeopen.open_beneath(root_fd, path))
        assert caught.value.errno in (errno.ELOOP, errno.ENOTDIR, errno.EXDEV)
    finally:
        os.close(root_fd)


@pytest.mark.parametrize("path,expected", [
    ("rel-link", "inside"),
    ("dir-link/b/f", "inside"),
    ("a/b/../b/f", "inside"),
])
def test_open_in_root_follows_links_inside(tree, path, expected):
    root_fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert _read(safeopen.open_in_root(root_fd, path)) == expected
    finally:
        os.close(root_fd)


@pytest.mark.parametrize("path", ["abs-link", "a/up-link", "../secret", "../../secret"])
def test_open_in_root_never_leaves_the_root(tree, path):
    # the absolute link names <root>/tmp/.../secret, '..' stops at the root: all absent
    root_fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(FileNotFoundError):
            os.close(safeopen.open_in_root(root_fd, path))
    finally:
        os.close(root_fd)


def test_open_in_root_stops_link_loops(tree):
    os.symlink("loop2", tree / "loop1")
    os.symlink("loop1", tree / "loop2")
    root_fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError) as caught:
            safeopen.open_in_root(root_fd, "loop1")
        assert caught.value.errno == errno.ELOOP
    finally:
        os.close(root_fd)


def test_read_in_root_refuses_fifos_and_large_files(tree):
    os.mkfifo(tree / "fifo")
    (tree / "big").write_bytes(b"x" * 100)
    root_fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError, match="not a regular file"):
            safeopen.read_in_root(root_fd, "fifo", 10)  # and does not block
        with pytest.raises(OSError, match="larger than"):
            safeopen.read_in_root(root_fd, "big", 10)
        assert safeopen.read_in_root(root_fd, "big", 100) == b"x" * 100
    finally:
        os.close(root_fd)


def test_inside_is_lexical(tmp_path):
    assert safeopen.inside(tmp_path / "c" / "Dockerfile", (tmp_path / "c",)) == "Dockerfile"
    assert safeopen.inside(tmp_path / "cc" / "Dockerfile", (tmp_path / "c",)) is None
    assert safeopen.inside(tmp_path / "elsewhere", (tmp_path / "c", tmp_path)) == "elsewhere"
