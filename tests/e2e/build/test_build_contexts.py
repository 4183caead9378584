"""Contexts from elsewhere: `--build-context NAME=DIR|docker-image://REF|URL` used by FROM NAME
and COPY --from=NAME, and the build's own context from a git URL (a real git daemon) or a
tarball URL (a real HTTP server on loopback)."""

from __future__ import annotations

import functools
import http.server
import io
import tarfile
import threading

import pytest
from gitserve import repo_fixture  # noqa: F401  (the `repo` fixture)

BUSYBOX = "localhost:5000/busybox:latest"


def _ok(done) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr


@pytest.fixture
def web(tmp_path):
    """A directory served over HTTP on loopback: (directory, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _targz(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_named_contexts_in_from_and_copy(rb, busybox, repo, web, inspect, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "note.txt").write_text("from a directory\n")
    root, url = web
    (root / "bundle.tar.gz").write_bytes(_targz({"web.txt": "from a tarball\n"}))
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("""\
FROM base
COPY --from=extra note.txt /note.txt
COPY --from=repo b.txt /b.txt
COPY --from=webctx web.txt /web.txt
COPY --from=base /bin/busybox /copied-busybox
""")
    done = rb("build", "-t", "named:1", "--build-context", f"extra={extra}",
              "--build-context", f"base=docker-image://{BUSYBOX}", "--build-context", f"repo={repo.url}#v1:sub",
              "--build-context", f"webctx={url}/bundle.tar.gz", ctx)
    _ok(done)
    rootfs = inspect.unpack("named:1", tmp_path / "bundle")
    assert (rootfs / "note.txt").read_text() == "from a directory\n"
    assert (rootfs / "b.txt").read_text() == "b1\n"
    assert (rootfs / "web.txt").read_text() == "from a tarball\n"
    assert (rootfs / "copied-busybox").is_file() and (rootfs / "bin" / "busybox").is_file()
    members = inspect.members("named:1", layer=-4)
    assert (members["note.txt"].uid, members["note.txt"].gid) == (0, 0)


def test_named_context_errors(rb, busybox, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM dirctx\n")
    done = rb("build", "--build-context", f"dirctx={tmp_path}", ctx)
    assert done.returncode != 0 and "build context dirctx is a directory" in done.stderr
    bad = rb("build", "--build-context", "nothing", ctx)
    assert bad.returncode != 0 and "invalid --build-context 'nothing'" in bad.stderr
    assert "Traceback" not in done.stderr + bad.stderr


def test_context_from_a_git_url(rb, busybox, repo):
    repo.commit({"Dockerfile": f"FROM {BUSYBOX}\nCOPY a.txt /a.txt\nRUN cat /a.txt > /seen.txt\n"}, "dockerfile")
    done = rb("build", "-t", "fromgit:1", f"{repo.url}#main")
    _ok(done)
    assert rb("run", "--rm", "fromgit:1", "cat", "/seen.txt").stdout == "a1\n"


def test_context_from_a_tarball_url(rb, busybox, web):
    root, url = web
    (root / "ctx.tar.gz").write_bytes(_targz({"Dockerfile": f"FROM {BUSYBOX}\nCOPY hello.txt /hello.txt\n",
                                              "hello.txt": "hello over http\n"}))
    (root / "Dockerfile.only").write_text(f"FROM {BUSYBOX}\nRUN echo lone > /lone.txt\n")
    done = rb("build", "-t", "fromweb:1", f"{url}/ctx.tar.gz")
    _ok(done)
    assert rb("run", "--rm", "fromweb:1", "cat", "/hello.txt").stdout == "hello over http\n"
    lone = rb("build", "-t", "fromweb:2", f"{url}/Dockerfile.only")
    _ok(lone)
    missing = rb("build", f"{url}/nothing-here.tar")
    assert missing.returncode != 0 and "404" in missing.stderr and "Traceback" not in missing.stderr
