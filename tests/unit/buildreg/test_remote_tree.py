"""ADD <url> planning without a network: file names from URLs, --checksum syntax, and the
download tree read by COPY's planner and the layer writer (real files, a real store)."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest

from rootless_build.builder.copyplan import CopyRequest, Source, plan_copy
from rootless_build.builder.imagefs import ImageFS
from rootless_build.builder.layerwrite import keep, write_layer
from rootless_build.builder.modes import parse_chmod
from rootless_build.builder.remote import Download, DownloadTree, is_git, is_url, parse_checksum, url_filename
from rootless_build.errors import BuildError
from rootless_build.store import Store

NOW = 1_700_000_000 * 10**9
MTIME = 1_000_000_000 * 10**9


@pytest.mark.parametrize("url, name", [
    ("https://example.com/dist/tool-1.0.tar.gz", "tool-1.0.tar.gz"),
    ("https://example.com/dist/tool.tar.gz?version=2#frag", "tool.tar.gz"),
    ("http://example.com/dir/", "dir"),
    ("http://example.com/a%20b.txt", "a b.txt"),
    ("http://example.com", "__unnamed__"),
    ("http://example.com/", "__unnamed__"),
    ("http://example.com/..", "__unnamed__"),
], ids=["plain", "query", "trailing-slash", "escaped", "no-path", "root", "dotdot"])
def test_file_name_from_the_url_path(url, name):
    assert url_filename(url) == name


def test_url_and_git_sources():
    assert is_url("https://x/y") and is_url("http://x/y") and not is_url("ftp://x/y")
    assert not is_url("local/https://x") and is_git("git@github.com:a/b.git") and is_git("git://x/y")
    assert is_git("https://github.com/a/b.git#main") and not is_git("https://x/archive.tar.gz")


def test_checksum_syntax():
    hex64 = "ab" * 32
    assert parse_checksum(f"sha256:{hex64.upper()}") == ("sha256", hex64)
    assert parse_checksum("sha512:" + "0" * 128) == ("sha512", "0" * 128)
    for bad in ("sha256:abc", "md5:" + "0" * 32, hex64, "sha256:" + "g" * 64):
        with pytest.raises(BuildError, match="invalid --checksum"):
            parse_checksum(bad)


def downloaded(tmp_path: Path, name: str, data: bytes, url: str | None = None) -> Download:
    path = tmp_path / f"download-{hashlib.sha256(name.encode() + data).hexdigest()[:8]}"
    path.write_bytes(data)
    path.chmod(0o600)
    return Download(url or f"http://h/{name}", name, "sha256:" + hashlib.sha256(data).hexdigest(), len(data),
                    MTIME, path)


def plan(downloads, dest, *, lower=None, **kw):
    tree = DownloadTree()
    paths = tuple(tree.add(d) for d in downloads)
    req = CopyRequest(Source(tree, "the downloads", paths), dest, "/", lower or ImageFS(None, []),
                      now_ns=NOW, **kw)
    return plan_copy(req)


def files(result) -> dict[str, tuple]:
    return {e.dest: (e.mode, e.uid, e.gid, e.mtime_ns, e.digest) for e in result.entries if e.kind == "file"}


def test_dest_with_slash_takes_the_url_name_mode_0600_and_last_modified(tmp_path):
    d = downloaded(tmp_path, "tool.bin", b"\x7fELF...")
    assert files(plan([d], "/opt/")) == {"opt/tool.bin": (0o600, 0, 0, MTIME, d.digest)}
    assert files(plan([d], "/usr/local/bin/tool")) == {"usr/local/bin/tool": (0o600, 0, 0, MTIME, d.digest)}


def test_chmod_and_chown_apply(tmp_path):
    d = downloaded(tmp_path, "run.sh", b"#!/bin/sh\n")
    got = files(plan([d], "/bin/", chmod=parse_chmod("755"), chown=(10, 20)))
    assert got == {"bin/run.sh": (0o755, 10, 20, MTIME, d.digest)}


def test_same_name_from_two_urls_and_wildcard_characters(tmp_path):
    one = downloaded(tmp_path, "data[1]*.txt", b"one", "http://a/data[1]*.txt")
    two = downloaded(tmp_path, "data[1]*.txt", b"two", "http://b/data[1]*.txt")
    got = files(plan([one, two], "/d/"))
    assert list(got) == ["d/data[1]*.txt"] and got["d/data[1]*.txt"][4] == two.digest  # the last one wins


def test_layer_written_from_downloads(tmp_path):
    store = Store.open(tmp_path / "store")
    data = bytes(range(256)) * 300
    result = plan([downloaded(tmp_path, "blob.bin", data)], "/srv/")
    written = write_layer(store, result)
    keep(store, written)
    with tarfile.open(store.blobs.path(written.diff_id)) as tar:
        member = tar.getmember("srv/blob.bin")
        assert member.mode == 0o600 and member.mtime == MTIME // 10**9
        assert tar.extractfile(member).read() == data


def test_a_probed_download_has_no_bytes_yet(tmp_path):
    probed = Download("http://h/x", "x", "sha256:" + "0" * 64, mtime_ns=NOW)
    tree = DownloadTree()
    path = tree.add(probed)
    node = tree.node(path)
    assert tree.known_digest(path, node) == probed.digest
    with pytest.raises(BuildError, match="has not been downloaded"):
        tree.open(path, node)
