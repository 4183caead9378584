"""Layers written straight from a plan: contents, owners, digests, ADD's archive unpacking."""

from __future__ import annotations

import bz2
import hashlib
import io
import lzma
import os
import tarfile
from pathlib import Path

import pytest

from rootless_build.builder.context import BuildContext
from rootless_build.builder.copyplan import CopyRequest, Source, plan_copy
from rootless_build.builder.dockerignore import IgnoreMatcher
from rootless_build.builder.imagefs import ImageFS
from rootless_build.builder.layerwrite import discard, keep, write_layer
from rootless_build.builder.statcache import StatCache
from rootless_build.errors import BuildError


def _archive(tmp_path: Path, compression: str) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in (("pkg/bin/tool", b"tool"), ("pkg/README", b"readme")):
            info = tarfile.TarInfo(name)
            info.size, info.uid, info.mode, info.mtime = len(data), 3, 0o700, 1_600_000_000
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("pkg/bin/again")
        link.type, link.linkname = tarfile.LNKTYPE, "pkg/bin/tool"
        tar.addfile(link)
        escape = tarfile.TarInfo("../../outside")
        escape.size = 1
        tar.addfile(escape, io.BytesIO(b"x"))
    data = raw.getvalue()
    if compression == "gzip":
        import gzip

        return gzip.compress(data)
    if compression == "bzip2":
        return bz2.compress(data)
    if compression == "xz":
        return lzma.compress(data)
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    return data


def _plan(ctx: Path, store, sources, dest, **kw):
    tree = BuildContext(ctx, IgnoreMatcher([]), StatCache(store, str(ctx)))
    return plan_copy(CopyRequest(Source(tree, "the build context", tuple(sources)), dest, "/",
                                 ImageFS(None, []), now_ns=1_700_000_000 * 10**9, **kw)), tree


def _members(store, written) -> dict[str, tuple]:
    with tarfile.open(store.blobs.path(written.diff_id)) as tar:
        return {m.name: (m.type, m.uid, m.gid, oct(m.mode),
                         tar.extractfile(m).read() if m.isreg() else m.linkname)
                for m in tar.getmembers()}


def test_layer_bytes_digest_and_file_hashes(store, tmp_path):
    ctx = tmp_path / "ctx"
    (ctx / "d").mkdir(parents=True)
    (ctx / "d" / "big").write_bytes(os.urandom(3 << 20))
    (ctx / "d" / "small").write_text("small")
    plan, tree = _plan(ctx, store, ["d"], "/out/", chown=(10, 20))
    assert all(e.digest is None for e in plan.entries if e.kind == "file")
    written = write_layer(store, plan)
    keep(store, written)
    blob = store.blobs.path(written.diff_id).read_bytes()
    assert "sha256:" + hashlib.sha256(blob).hexdigest() == written.diff_id and len(blob) == written.size
    members = _members(store, written)
    assert members["out/big"][4] == (ctx / "d" / "big").read_bytes()
    assert members["out/small"][:4] == (tarfile.REGTYPE, 10, 20, "0o644")
    big = next(e for e in plan.entries if e.dest == "out/big")
    assert big.digest == "sha256:" + hashlib.sha256((ctx / "d" / "big").read_bytes()).hexdigest()


def test_discarded_layer_leaves_nothing(store, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("f")
    plan, _ = _plan(ctx, store, ["f"], "/f")
    written = write_layer(store, plan)
    discard(written)
    assert not written.temp_path.exists() and not store.blobs.has(written.diff_id)


@pytest.mark.parametrize("compression,suffix", [
    ("", ".tar"), ("gzip", ".tar.gz"), ("bzip2", ".tar.bz2"), ("xz", ".tar.xz"), ("zstd", ".tar.zst")])
def test_add_unpacks_local_archives(store, tmp_path, compression, suffix):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / f"pkg{suffix}").write_bytes(_archive(tmp_path, compression))
    plan, _ = _plan(ctx, store, [f"pkg{suffix}"], "/opt/", unpack_archives=True)
    assert len(plan.archives) == 1 and plan.archives[0].compression == compression
    written = write_layer(store, plan)
    keep(store, written)
    members = _members(store, written)
    assert members["opt/pkg/bin/tool"] == (tarfile.REGTYPE, 3, 0, "0o700", b"tool")
    assert members["opt/pkg/bin/again"][0] == tarfile.LNKTYPE
    assert members["opt/pkg/bin/again"][4] == "opt/pkg/bin/tool"
    assert "opt/outside" in members and not any(name.startswith("..") for name in members)
    assert plan.archives[0].digest.startswith("sha256:")


def test_add_copies_files_that_are_not_archives(store, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "notes.gz").write_bytes(b"\x1f\x8bnot really gzip")
    (ctx / "plain.txt").write_text("text")
    plan, _ = _plan(ctx, store, ["notes.gz", "plain.txt"], "/x/", unpack_archives=True)
    assert not plan.archives and {e.dest for e in plan.entries} == {"x", "x/notes.gz", "x/plain.txt"}


def _tar(*members: tuple[str, str, str]) -> bytes:
    """(name, kind, content or link target) -> a plain tar."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, value
            info.size = len(value) if kind == "file" else 0
            tar.addfile(info, io.BytesIO(value.encode()) if kind == "file" else None)
    return raw.getvalue()


@pytest.mark.parametrize("members,expected", [
    # a member through a symlink of the archive lands where the link leads, inside dest
    ([("real", "dir", ""), ("link", "symlink", "real"), ("link/f", "file", "via")], "x/real/f"),
    # `..` in a link stops at the destination, as in Docker's chrooted untar
    ([("up", "symlink", "../.."), ("up/f", "file", "e")], "x/f"),
    # an absolute target starts from the destination
    ([("t", "dir", ""), ("abs", "symlink", "/t"), ("abs/f", "file", "a")], "x/t/f"),
], ids=["relative", "dotdot", "absolute"])
def test_add_never_writes_beneath_a_symlink(store, tmp_path, members, expected):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "a.tar").write_bytes(_tar(*members))
    plan, _ = _plan(ctx, store, ["a.tar"], "/x/", unpack_archives=True)
    written = write_layer(store, plan)
    keep(store, written)
    names = _members(store, written)
    assert names[expected][4] in (b"via", b"e", b"a")
    links = {name for name, m in names.items() if m[0] == tarfile.SYMTYPE}
    assert not any(name.startswith(tuple(link + "/" for link in links)) for name in names)


def test_add_creates_implied_parents_and_fails_through_a_dangling_link(store, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "a.tar").write_bytes(_tar(("p/q/r", "file", "r")))
    plan, _ = _plan(ctx, store, ["a.tar"], "/x/", unpack_archives=True, chown=(9, 9))
    written = write_layer(store, plan)
    keep(store, written)
    members = _members(store, written)
    assert members["x/p"][:4] == members["x/p/q"][:4] == (tarfile.DIRTYPE, 0, 0, "0o755")
    assert members["x/p/q/r"][1:3] == (0, 0)  # --chown does not apply to an archive's members
    (ctx / "b.tar").write_bytes(_tar(("gone", "symlink", "/nowhere"), ("gone/f", "file", "f")))
    plan, _ = _plan(ctx, store, ["b.tar"], "/x/", unpack_archives=True)
    with pytest.raises(BuildError, match="gone/f: no such file or directory"):
        write_layer(store, plan)
