"""ADD <url> from a loopback HTTP server: the file as docker lays it down (name from the
URL, mode 0600, Last-Modified as mtime), --checksum checked, and the step cached on the
download's content (re-asked every build: conditionally, or not at all with --checksum)."""

from __future__ import annotations

import hashlib
import tarfile

from buildreghelp import ok

LAST_MODIFIED = 1_000_000_000  # 2001-09-09, what the server sends as Last-Modified


def last_layer(root, name: str) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    from rootless_build.store import Store

    store = Store.open(root)
    image = store.resolve(name)
    out = {}
    with tarfile.open(store.blobs.path(image.manifest.layers[-1].digest)) as tar:
        for member in tar.getmembers():
            data = tar.extractfile(member).read() if member.isfile() else b""
            out[member.name.rstrip("/")] = (member, data)
    return out


def cached_steps(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    return [lines[i - 1] for i, line in enumerate(lines) if line.startswith("--> Using cache")]


def test_add_url_lays_the_file_down_as_docker(rb, file_server, context_dir):
    data = bytes(range(256)) * 4096  # 1 MiB, not text
    file_server.put("dist/tool-1.0.bin", data, mtime=LAST_MODIFIED)
    url = file_server.url("dist/tool-1.0.bin")
    context = context_dir(f"FROM scratch\nADD {url} /opt/\nADD {url} /renamed\n")
    ok(rb("build", "-t", "dl:1", context))

    layer = last_layer(rb.root, "dl:1")
    member, content = layer["renamed"]
    assert content == data and member.mode == 0o600 and (member.uid, member.gid) == (0, 0)
    assert member.mtime == LAST_MODIFIED
    from rootless_build.store import Store

    store = Store.open(rb.root)
    image = store.resolve("dl:1")
    with tarfile.open(store.blobs.path(image.manifest.layers[0].digest)) as tar:
        member = tar.getmember("opt/tool-1.0.bin")  # dest ends in /: named after the URL path
        assert member.mode == 0o600 and member.size == len(data)
        assert tar.getmember("opt").isdir()


def test_add_url_with_chmod_and_chown(rb, file_server, context_dir):
    file_server.put("run.sh", b"#!/bin/sh\necho hi\n", mtime=LAST_MODIFIED)
    context = context_dir(f"FROM scratch\nADD --chmod=755 --chown=10:20 {file_server.url('run.sh')} /bin/\n")
    ok(rb("build", "-t", "dl:2", context))
    member, _ = last_layer(rb.root, "dl:2")["bin/run.sh"]
    assert member.mode == 0o755 and (member.uid, member.gid) == (10, 20)


def test_checksum_good_and_bad(rb, file_server, context_dir):
    digest = file_server.put("pinned.txt", b"pinned content\n")
    url = file_server.url("pinned.txt")
    good = context_dir(f"FROM scratch\nADD --checksum={digest} {url} /pinned.txt\n")
    ok(rb("build", "-t", "pinned:1", good))
    assert last_layer(rb.root, "pinned:1")["pinned.txt"][1] == b"pinned content\n"

    wrong = "sha256:" + hashlib.sha256(b"something else").hexdigest()
    bad = context_dir(f"FROM scratch\nADD --checksum={wrong} {url} /pinned.txt\n")
    failed = rb("build", bad)
    assert failed.returncode != 0
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith(f"Error: Dockerfile:2: ADD --checksum={wrong[:20]}")
    assert f"checksum mismatch for {url}: expected {wrong}, got {digest}" in lines[0]

    malformed = rb("build", context_dir(f"FROM scratch\nADD --checksum=sha256:abc {url} /x\n"))
    assert malformed.returncode != 0 and "invalid --checksum" in malformed.stderr
    assert len(malformed.stderr.strip().splitlines()) == 1


def test_download_is_cached_on_its_content(rb, file_server, context_dir):
    file_server.put("data.txt", b"version one\n", mtime=LAST_MODIFIED)
    url = file_server.url("data.txt")
    context = context_dir(f"FROM scratch\nADD {url} /data.txt\nENV AFTER=1\n")
    first = ok(rb("build", "-t", "data:1", context))
    assert cached_steps(first.stdout) == []

    again = ok(rb("build", "-t", "data:2", context))  # unchanged: asked again, answered 304
    assert cached_steps(again.stdout) == ["STEP 2/3: ADD " + url + " /data.txt", "STEP 3/3: ENV AFTER=1"]
    assert [status for _, status in file_server.served("data.txt")] == [200, 304]
    assert file_server.served("data.txt")[1][0]  # the second request was conditional

    file_server.put("data.txt", b"version two\n", mtime=LAST_MODIFIED + 60)
    changed = ok(rb("build", "-t", "data:3", context))
    assert cached_steps(changed.stdout) == []
    assert last_layer(rb.root, "data:3")["data.txt"][1] == b"version two\n"


def test_checksum_step_is_cached_without_a_request(rb, file_server, context_dir):
    digest = file_server.put("pinned.bin", b"\x00pinned\xff" * 1000)
    context = context_dir(f"FROM scratch\nADD --checksum={digest} {file_server.url('pinned.bin')} /p\n")
    first = ok(rb("build", "-t", "p:1", context))
    again = ok(rb("build", "-t", "p:2", context))
    assert len(cached_steps(again.stdout)) == 1 and not cached_steps(first.stdout)
    assert len(file_server.served("pinned.bin")) == 1  # the digest is the key: no second download


def test_http_error_is_one_line(rb, file_server, context_dir):
    url = file_server.url("missing.tar.gz")
    failed = rb("build", context_dir(f"FROM scratch\nADD {url} /\n"))
    assert failed.returncode != 0
    assert failed.stderr.strip() == f"Error: Dockerfile:2: ADD {url} /: downloading {url}: HTTP 404 File not found"


def test_url_and_local_sources_together(rb, file_server, context_dir):
    file_server.put("remote.txt", b"remote\n")
    context = context_dir(f"FROM scratch\nADD local.txt {file_server.url('remote.txt')} /both/\n",
                          **{"local.txt": "local\n"})
    ok(rb("build", "-t", "both:1", context))
    layer = last_layer(rb.root, "both:1")
    assert layer["both/local.txt"][1] == b"local\n" and layer["both/local.txt"][0].mode == 0o644
    assert layer["both/remote.txt"][1] == b"remote\n" and layer["both/remote.txt"][0].mode == 0o600
    failed = rb("build", context_dir(f"FROM scratch\nADD local.txt {file_server.url('remote.txt')} /file\n",
                                     **{"local.txt": "local\n"}))
    assert failed.returncode != 0 and "must be a directory" in failed.stderr


def test_unchanged_download_is_fetched_when_the_step_must_run(rb, file_server, context_dir):
    """A 304 gives the digest; when the step still misses the cache (another parent), the
    file is downloaded after all and written."""
    file_server.put("tool.txt", b"tool\n", mtime=LAST_MODIFIED)
    url = file_server.url("tool.txt")
    ok(rb("build", context_dir(f"FROM scratch\nADD {url} /tool.txt\n")))
    other_parent = context_dir(f"FROM scratch\nENV BEFORE=1\nADD {url} /tool.txt\n")
    built = ok(rb("build", "-t", "tool:2", other_parent))
    assert [status for _, status in file_server.served("tool.txt")] == [200, 304, 200]
    assert cached_steps(built.stdout) == []
    assert last_layer(rb.root, "tool:2")["tool.txt"][1] == b"tool\n"
