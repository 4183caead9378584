"""Shared helpers for the layer tests: trees, tars crafted with tarfile, digests."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from rootless_build.layers.sink import LayerSink
from rootless_build.layers.tree import write_tree


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def tree_digest(root: Path, **kwargs) -> str:
    """Digest of the deterministic layer of a tree: equal digests = equal trees."""
    out = io.BytesIO()
    write_tree(root, out, **kwargs)
    return "sha256:" + hashlib.sha256(out.getvalue()).hexdigest()


def write_layer(root: Path, dest: Path, compression: str = "", **kwargs):
    with open(dest, "wb") as f, LayerSink(f, compression) as sink:
        write_tree(root, sink, **kwargs)
        return sink.finish()


def user_xattrs_supported(path: Path) -> bool:
    probe = path / ".xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.probe", b"1")
        return True
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EPERM, errno.EOPNOTSUPP):
            return False
        raise
    finally:
        probe.unlink()


def can_make_whiteout_device(path: Path) -> bool:
    probe = path / ".wh-probe"
    try:
        os.mknod(probe, stat.S_IFCHR | 0o600, os.makedev(0, 0))
    except OSError:
        return False
    probe.unlink()
    return True


class TarBuilder:
    """Craft arbitrary (also malicious) tars with the standard library."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)

    def _info(self, name: str, type_: bytes, **kw) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = type_
        info.mode = kw.pop("mode", 0o755 if type_ == tarfile.DIRTYPE else 0o644)
        info.mtime = kw.pop("mtime", 1_600_000_000)
        for key, value in kw.items():
            setattr(info, key, value)
        return info

    def file(self, name: str, data: bytes = b"data", **kw) -> TarBuilder:
        info = self._info(name, tarfile.REGTYPE, **kw)
        info.size = len(data)
        self.tar.addfile(info, io.BytesIO(data))
        return self

    def dir(self, name: str, **kw) -> TarBuilder:
        self.tar.addfile(self._info(name, tarfile.DIRTYPE, **kw))
        return self

    def symlink(self, name: str, target: str, **kw) -> TarBuilder:
        self.tar.addfile(self._info(name, tarfile.SYMTYPE, linkname=target, mode=0o777, **kw))
        return self

    def hardlink(self, name: str, target: str, **kw) -> TarBuilder:
        self.tar.addfile(self._info(name, tarfile.LNKTYPE, linkname=target, **kw))
        return self

    def chardev(self, name: str, major: int = 1, minor: int = 3) -> TarBuilder:
        self.tar.addfile(self._info(name, tarfile.CHRTYPE, devmajor=major, devminor=minor))
        return self

    def fifo(self, name: str) -> TarBuilder:
        self.tar.addfile(self._info(name, tarfile.FIFOTYPE))
        return self

    def bytes(self) -> bytes:
        self.tar.close()
        return self.buf.getvalue()

    def stream(self) -> io.BytesIO:
        return io.BytesIO(self.bytes())


@pytest.fixture
def tar_builder():
    return TarBuilder


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """tmp_path/sandbox holds `target`; tests check nothing appears beside it."""
    box = tmp_path / "sandbox"
    (box / "target").mkdir(parents=True)
    return box


def sandbox_listing(box: Path) -> list[str]:
    """Everything in the sandbox outside `target`."""
    found = []
    for dirpath, dirnames, filenames in os.walk(box):
        rel = os.path.relpath(dirpath, box)
        if rel == "target" or rel.startswith("target" + os.sep):
            continue
        for name in dirnames + filenames:
            path = os.path.normpath(os.path.join(rel, name))
            if path != "target":
                found.append(path)
    return found


IS_ROOT = os.geteuid() == 0
