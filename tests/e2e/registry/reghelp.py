"""Helpers for the registry tests: processes, certificates, umoci layouts, skopeo."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest


def ok(proc):
    """A finished command that must have succeeded (its stderr is the failure message)."""
    assert proc.returncode == 0, proc.stderr
    return proc


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*cmd, check: bool = True, timeout: float = 300, env: dict | None = None, input: str | None = None):
    argv = [str(c) for c in cmd]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr.strip()}", pytrace=False)
    return proc


def need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            message = f"{tool} not installed (make setup)"
            if os.environ.get("CI"):
                pytest.fail(message, pytrace=False)
            pytest.skip(message)


# --- a docker-registry behind TLS with htpasswd auth ---------------------------------------


@dataclass(frozen=True)
class TLSRegistry:
    address: str          # "127.0.0.1:PORT"
    cert_dir: Path        # holds ca.crt (the self-signed certificate), as --cert-dir wants
    username: str
    password: str


def start_registry(directory: Path, extra_config: list[str]) -> tuple[subprocess.Popen, int]:
    """docker-registry with `extra_config` lines (http: tls:, auth:) on a free port."""
    need("docker-registry")
    for _ in range(3):
        port = free_port()
        config = directory / "config.yml"
        config.write_text("\n".join([
            "version: 0.1", "log:", "  level: warn", "  accesslog:", "    disabled: true",
            "storage:", "  filesystem:", f"    rootdirectory: {directory / 'data'}",
            "  delete:", "    enabled: true",
            "http:", f"  addr: 127.0.0.1:{port}", *extra_config, ""]))
        log = open(directory / "registry.log", "ab")
        proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return proc, port
            except OSError:
                time.sleep(0.05)
        stop_process(proc)
    pytest.fail(f"docker-registry did not start: {(directory / 'registry.log').read_text()[-2000:]}", pytrace=False)


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make_certificate(directory: Path, name: str = "server") -> tuple[Path, Path]:
    need("openssl")
    key, cert = directory / f"{name}.key.pem", directory / f"{name}.cert.pem"
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
        "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
    return key, cert


def wait_http(url: str, context: ssl.SSLContext | None = None) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(url, timeout=2, context=context).close()
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer (401) means it serves
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# --- images made without rootless-build ------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    path: Path

    def ref(self, tag: str = "latest") -> str:
        return f"oci:{self.path}:{tag}"


def umoci_image(layout: Path, tag: str, tar: Path, *, cmd: str = "sh", architecture: str | None = None,
                label: str | None = None) -> None:
    """Add `tag` to an OCI layout: one layer (the tarball, gzip), a config with CMD."""
    need("umoci")
    if not (layout / "index.json").exists():
        run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", f"{layout}:{tag}")
    run("umoci", "raw", "add-layer", "--image", f"{layout}:{tag}", tar)
    config = ["umoci", "config", "--image", f"{layout}:{tag}", "--config.cmd", cmd]
    if architecture:
        config += ["--architecture", architecture]
    if label:
        config += ["--config.label", label]
    run(*config)


def skopeo_copy(src: str, dest: str, *extra: str) -> None:
    need("skopeo")
    run("skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false", *extra, src, dest)


def skopeo_raw(ref: str, *extra: str) -> bytes:
    proc = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", *extra, ref],
                          capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        pytest.fail(f"skopeo inspect --raw {ref}: {proc.stderr.decode().strip()}", pytrace=False)
    return proc.stdout


def skopeo_json(*args: str) -> dict:
    return json.loads(run("skopeo", *args).stdout)


