"""Helpers for the build-meets-registry tests: our CLI on any store, images published with
skopeo, a TLS registry's address and credentials, a loopback file server's state."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            if os.environ.get("CI"):
                pytest.fail(f"{tool} not installed (make setup)", pytrace=False)
            pytest.skip(f"{tool} not installed (make setup)")


def run(*cmd, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = [str(c) for c in cmd]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, **env} if env else None)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr.strip()}", pytrace=False)
    return proc


def cli(root: Path, *args, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Our CLI on another store (what `rb` does for its own); `env` adds variables."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "rootless_build", "--root", str(root), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)


class Publisher:
    """Makes images in a scratch store of its own and pushes them with skopeo."""

    def __init__(self, root: Path, busybox_tar: Path):
        need("skopeo")
        self.root = root
        self.count = 0
        ok(cli(root, "import", busybox_tar, "busybox:latest"))

    def push(self, dest: str, *, label: str | None = None, tls_verify: bool = False, creds: str | None = None) -> str:
        """busybox (with LABEL `label` when given) pushed as `dest`; returns its manifest digest."""
        name = "busybox:latest"
        if label:
            self.count += 1
            context = self.root.parent / f"publish-{self.count}"
            context.mkdir()
            (context / "Dockerfile").write_text(f"FROM busybox:latest\nLABEL {label}\n")
            name = f"variant-{self.count}:latest"
            ok(cli(self.root, "build", "-q", "-t", name, context))
        extra = [] if tls_verify else ["--dest-tls-verify=false"]
        if creds:
            extra += ["--dest-creds", creds]
        digest_file = self.root.parent / "pushed.digest"
        # skopeo's own blob-info cache: the user's would learn of our gzip variant of the
        # busybox layer and substitute it in other tests' pushes, changing their digests.
        private = {"XDG_DATA_HOME": str(self.root.parent / "skopeo-data")}
        run("skopeo", "copy", "--quiet", "--dest-compress", *extra, "--digestfile", digest_file,
            f"oci:{self.root}:{name}", f"docker://{dest}", env=private)
        return digest_file.read_text().strip()


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


@dataclass(frozen=True)
class SecureRegistry:
    address: str
    username: str
    password: str

    @property
    def creds(self) -> str:
        return f"{self.username}:{self.password}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class FileServer:
    root: Path
    address: str
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # (path, If-Modified-Since, status)

    def url(self, name: str) -> str:
        return f"http://{self.address}/{name}"

    def put(self, name: str, data: bytes, mtime: int | None = None) -> str:
        """Serve `data` as /name (Last-Modified = mtime); returns its sha256 digest."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return "sha256:" + hashlib.sha256(data).hexdigest()

    def served(self, name: str) -> list[tuple[str, int]]:
        return [(conditional, status) for path, conditional, status in self.requests if path == f"/{name}"]
