"""Fixtures for builds that meet registries: base images pushed by skopeo (not by us) into
the session's docker-registry, a docker-registry behind TLS with htpasswd auth, a second
store, and a loopback HTTP file server for ADD <url>."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from buildreghelp import FileServer, Publisher, SecureRegistry, free_port, need, run


@pytest.fixture(scope="session")
def publisher(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Publisher:
    return Publisher(tmp_path_factory.mktemp("publisher") / "store", busybox_tar)


@pytest.fixture(scope="session")
def base_ref(registry: str, publisher: Publisher) -> str:
    """busybox in the session registry as REGISTRY/buildreg/base:1 (pushed by skopeo)."""
    ref = f"{registry}/buildreg/base:1"
    publisher.push(ref)
    return ref


@pytest.fixture
def other_store(tmp_path: Path) -> Path:
    """A second, empty store: another machine that shares nothing but the registry."""
    root = tmp_path / "second-store"
    root.mkdir()
    return root


@pytest.fixture
def plain_env(tmp_path: Path) -> dict[str, str]:
    """Keep the user's registries.conf and auth files out of a build."""
    conf = tmp_path / "registries.conf"
    conf.write_text("")
    return {"CONTAINERS_REGISTRIES_CONF": str(conf), "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json"),
            "RB_REGISTRY_RETRY_BASE": "0.05"}


# --- a docker-registry behind TLS (self-signed) with htpasswd auth ------------------------


@pytest.fixture(scope="session")
def secure_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureRegistry]:
    need("docker-registry", "openssl", "htpasswd")
    directory = tmp_path_factory.mktemp("secure-registry")
    key, cert = directory / "key.pem", directory / "cert.pem"
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
    username, password = "builder", "build secret"
    (directory / "htpasswd").write_text(run("htpasswd", "-Bbn", username, password).stdout)
    port = free_port()
    (directory / "config.yml").write_text("\n".join([
        "version: 0.1", "log:", "  level: warn", "  accesslog:", "    disabled: true",
        "storage:", "  filesystem:", f"    rootdirectory: {directory / 'data'}",
        "http:", f"  addr: 127.0.0.1:{port}", "  tls:", f"    certificate: {cert}", f"    key: {key}",
        "auth:", "  htpasswd:", "    realm: buildreg", f"    path: {directory / 'htpasswd'}", ""]))
    log = open(directory / "registry.log", "ab")
    proc = subprocess.Popen(["docker-registry", "serve", str(directory / "config.yml")], stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(f"docker-registry (TLS) did not start: {(directory / 'registry.log').read_text()}",
                                pytrace=False)
                time.sleep(0.05)
        yield SecureRegistry(f"127.0.0.1:{port}", username, password)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


# --- a loopback HTTP file server for ADD <url> ----------------------------------------------


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[FileServer]:
    """A threaded http.server on 127.0.0.1 serving a fresh directory (Last-Modified from the
    files' mtimes, 304 for an unchanged If-Modified-Since), logging every request."""
    root = tmp_path / "served"
    root.mkdir()
    server_state: list[FileServer] = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_request(self, code="-", size="-"):
            status = code.value if hasattr(code, "value") else int(code) if str(code).isdigit() else 0
            server_state[0].requests.append((self.path, self.headers.get("If-Modified-Since", ""), status))

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server_state.append(FileServer(root, f"127.0.0.1:{httpd.server_address[1]}"))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state[0]
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def context_dir(tmp_path: Path) -> Callable[..., Path]:
    """make(dockerfile, **files) -> a fresh build context directory."""
    count = [0]

    def make(dockerfile: str, **files: str) -> Path:
        count[0] += 1
        directory = tmp_path / f"context-{count[0]}"
        directory.mkdir()
        (directory / "Dockerfile").write_text(dockerfile)
        for name, text in files.items():
            (directory / name).write_text(text)
        return directory

    return make
