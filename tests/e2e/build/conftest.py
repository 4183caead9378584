"""Fixtures for build end-to-end tests: busybox in a fresh store under the name the bench
cases expect, the bench cases copied out, and the consumers that check our images
(skopeo on the store itself, umoci unpack --rootless, a throwaway rootless podman)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

BUSYBOX = "localhost:5000/busybox:latest"


@pytest.fixture
def busybox(rb, busybox_tar) -> str:
    """busybox imported as localhost:5000/busybox:latest (FROM finds it locally)."""
    proc = rb("import", busybox_tar, BUSYBOX)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


class Inspector:
    """Our store read by real consumers and by tarfile (ownership as the layers record it)."""

    def __init__(self, root: Path, tool):
        self.root = root
        self.tool = tool

    def skopeo(self, name: str) -> dict:
        return json.loads(self.tool("skopeo", "inspect", f"oci:{self.root}:{name}").stdout)

    def manifest(self, name: str) -> dict:
        return json.loads(self.tool("skopeo", "inspect", "--raw", f"oci:{self.root}:{name}").stdout)

    def config(self, name: str) -> dict:
        return json.loads(self.tool("skopeo", "inspect", "--config", f"oci:{self.root}:{name}").stdout)

    def unpack(self, name: str, bundle: Path) -> Path:
        self.tool("umoci", "unpack", "--rootless", "--image", f"{self.root}:{name}", bundle)
        return bundle / "rootfs"

    def layers(self, name: str) -> list[Path]:
        return [self.root / "blobs" / "sha256" / digest.split(":", 1)[1]
                for digest in self.skopeo(name)["Layers"]]

    def members(self, name: str, layer: int = -1) -> dict[str, tarfile.TarInfo]:
        with tarfile.open(self.layers(name)[layer]) as tar:
            return {m.name.rstrip("/"): m for m in tar.getmembers()}

    def tar_listing(self, name: str, layer: int = -1) -> str:
        return self.tool("tar", "-tvf", self.layers(name)[layer], "--numeric-owner").stdout


@pytest.fixture
def inspect(rb, tool) -> Inspector:
    return Inspector(rb.root, tool)


class Podman:
    def __init__(self, base: Path, root: Path, tool):
        self.base = base
        self.store = root
        self.tool = tool
        self.argv = ["podman", "--root", str(base / "root"), "--runroot", str(base / "run"),
                     "--storage-driver", "vfs"]

    def __call__(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.argv, *map(str, args)], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)

    def load(self, name: str) -> str:
        """skopeo copy to an oci-archive, podman load it; returns the name podman knows."""
        archive = self.base / "image.tar"
        self.tool("skopeo", "copy", f"oci:{self.store}:{name}", f"oci-archive:{archive}:{name}")
        loaded = self("load", "-i", str(archive))
        assert loaded.returncode == 0, loaded.stderr
        archive.unlink()
        return f"localhost/{name}"

    def run(self, name: str, *cmd: str) -> subprocess.CompletedProcess[str]:
        return self("run", "--rm", "--network", "none", self.load(name), *cmd)


@pytest.fixture
def podman(rb, tool) -> Iterator[Podman]:
    if shutil.which("podman") is None:
        pytest.skip("podman not installed")
    base = Path(tempfile.mkdtemp(prefix="rbb-", dir="/tmp"))  # short: conmon socket paths
    try:
        yield Podman(base, rb.root, tool)
    finally:
        subprocess.run(["podman", "unshare", "rm", "-rf", str(base)], capture_output=True, check=False,
                       stdin=subprocess.DEVNULL, timeout=120)
        shutil.rmtree(base, ignore_errors=True)
