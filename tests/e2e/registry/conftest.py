"""Fixtures for the registry tests: a TLS + htpasswd docker-registry (certificate made by
the test with openssl), OCI layouts made with umoci and pushed with skopeo, and a fault
proxy in front of the plain registry."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from regfaults import FaultProxy
from reghelp import (
    Layout,
    TLSRegistry,
    make_certificate,
    need,
    run,
    skopeo_copy,
    start_registry,
    stop_process,
    umoci_image,
    wait_http,
)
from regtoken import ISSUER, SERVICE, TokenServer


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSRegistry]:
    need("htpasswd")
    directory = tmp_path_factory.mktemp("tls-registry")
    key, cert = make_certificate(directory)
    cert_dir = directory / "certs"
    cert_dir.mkdir()
    shutil.copy(cert, cert_dir / "ca.crt")
    username, password = "alice", "correct horse"
    htpasswd = directory / "htpasswd"
    htpasswd.write_text(run("htpasswd", "-Bbn", username, password).stdout)
    proc, port = start_registry(directory, [
        "  tls:", f"    certificate: {cert}", f"    key: {key}",
        "auth:", "  htpasswd:", "    realm: rootless-build-tls", f"    path: {htpasswd}"])
    address = f"127.0.0.1:{port}"
    context = ssl.create_default_context(cafile=str(cert))
    wait_http(f"https://{address}/v2/", context)
    try:
        yield TLSRegistry(address, cert_dir, username, password)
    finally:
        stop_process(proc)


@pytest.fixture(scope="session")
def busybox_layout(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Layout:
    layout = tmp_path_factory.mktemp("layouts") / "busybox"
    umoci_image(layout, "latest", busybox_tar)
    return Layout(layout)


@pytest.fixture(scope="session")
def pushed_busybox(registry: str, busybox_layout: Layout) -> str:
    """busybox pushed by skopeo (not by us) as REGISTRY/e2e/busybox:latest."""
    ref = f"{registry}/e2e/busybox:latest"
    skopeo_copy(busybox_layout.ref(), f"docker://{ref}")
    return ref


@dataclass(frozen=True)
class BearerRegistry:
    address: str          # "127.0.0.1:PORT", plain HTTP
    tokens: TokenServer
    username: str
    password: str


@pytest.fixture(scope="session")
def bearer_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BearerRegistry]:
    """A docker-registry in token mode (as Docker Hub), with its token server."""
    directory = tmp_path_factory.mktemp("bearer-registry")
    key, cert = make_certificate(directory, "token")
    username, password = "bob", "s3cret token"
    tokens = TokenServer(key, cert, {username: password})
    proc, port = start_registry(directory, [
        "auth:", "  token:", f"    realm: {tokens.realm}", f"    service: {SERVICE}",
        f"    issuer: {ISSUER}", f"    rootcertbundle: {cert}"])
    wait_http(f"http://127.0.0.1:{port}/v2/")
    try:
        yield BearerRegistry(f"127.0.0.1:{port}", tokens, username, password)
    finally:
        stop_process(proc)
        tokens.close()


# --- a fault proxy in front of the plain registry ----------------------------------------------


@pytest.fixture
def fault_proxy(registry: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(registry)
    try:
        yield proxy
    finally:
        proxy.close()


# --- environment for the CLI --------------------------------------------------------------------


@pytest.fixture
def isolated_env(tmp_path: Path) -> dict[str, str]:
    """Environment for `rb` that keeps the user's own auth and registries files out."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    conf = tmp_path / "registries.conf"
    conf.write_text("")
    return {"XDG_RUNTIME_DIR": str(runtime), "CONTAINERS_REGISTRIES_CONF": str(conf),
            "XDG_CONFIG_HOME": str(tmp_path / "config"), "DOCKER_CONFIG": str(tmp_path / "docker"),
            "REGISTRY_AUTH_FILE": None, "RB_REGISTRY_RETRY_BASE": "0.05"}
