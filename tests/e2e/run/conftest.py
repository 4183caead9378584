"""Fixtures for the RUN end-to-end tests: base images pulled from the seeded registry into a
fresh store, bench cases copied out, a builder per storage driver, and the consumers that
check the images (umoci unpack --rootless, tar listings, a throwaway rootless podman).

Stores hold subordinate-id files (unpacked layers): they are removed from inside the user
namespace after each test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _remove_store_in_namespace(rb) -> Iterator[None]:
    yield
    if rb.root.exists():
        rb("unshare", "rm", "-rf", "--", rb.root, timeout=300)


@pytest.fixture
def pull(rb, seeded_registry):
    """pull("busybox") -> "<registry>/busybox:latest", pulled into the test's store."""

    def run(name: str) -> str:
        ref = f"{seeded_registry}/{name}:latest"
        done = rb("pull", "-q", ref)
        assert done.returncode == 0, done.stderr
        return ref

    return run


@pytest.fixture
def busybox(pull) -> str:
    return pull("busybox")


@pytest.fixture
def build(rb, seeded_registry):
    """build(context, *args, driver=None) -> CompletedProcess of `rootless-build build`,
    with the seeded registry as the REGISTRY build arg."""

    def run(context, *args: str, driver: str | None = None, timeout: float = 600, **kwargs):
        flags = ["--storage-driver", driver] if driver else []
        return rb(*flags, "build", "--build-arg", f"REGISTRY={seeded_registry}", *args, context,
                  timeout=timeout, **kwargs)

    return run


@pytest.fixture
def context(tmp_path: Path):
    """context(dockerfile_text, files={path: text}) -> a build context directory."""
    count = iter(range(1000))

    def make(dockerfile: str, files: dict[str, str] | None = None) -> Path:
        directory = tmp_path / f"ctx{next(count)}"
        directory.mkdir()
        (directory / "Dockerfile").write_text(dockerfile)
        for name, text in (files or {}).items():
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return directory

    return make


class Inspector:
    """Our store read by real consumers (skopeo, umoci, tar) and by tarfile."""

    def __init__(self, root: Path, tool, scratch: Path):
        self.root = root
        self.tool = tool
        self.scratch = scratch

    def config(self, name: str) -> dict:
        return json.loads(self.tool("skopeo", "inspect", "--config", f"oci:{self.root}:{name}").stdout)

    def layers(self, name: str) -> list[Path]:
        info = json.loads(self.tool("skopeo", "inspect", f"oci:{self.root}:{name}").stdout)
        return [self.root / "blobs" / "sha256" / digest.split(":", 1)[1] for digest in info["Layers"]]

    def members(self, name: str, layer: int = -1) -> dict[str, tarfile.TarInfo]:
        with tarfile.open(self.layers(name)[layer]) as tar:
            return {m.name.rstrip("/"): m for m in tar.getmembers()}

    def names(self, name: str, layer: int = -1) -> list[str]:
        """A layer's entry names as `tar -t` lists them (in order, duplicates kept)."""
        listing = self.tool("tar", "-tf", self.layers(name)[layer]).stdout
        return [line.rstrip("/") for line in listing.splitlines()]

    def unpack(self, name: str) -> Path:
        bundle = Path(tempfile.mkdtemp(dir=self.scratch)) / "bundle"
        self.tool("umoci", "unpack", "--rootless", "--image", f"{self.root}:{name}", bundle)
        return bundle / "rootfs"


@pytest.fixture
def inspect(rb, tool, tmp_path) -> Inspector:
    return Inspector(rb.root, tool, tmp_path)


class Podman:
    """A rootless podman with a store of its own, fed through skopeo copy + podman load."""

    def __init__(self, base: Path, store: Path, tool):
        self.base = base
        self.store = store
        self.tool = tool
        self.argv = ["podman", "--root", str(base / "root"), "--runroot", str(base / "run"),
                     "--storage-driver", "vfs"]

    def __call__(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.argv, *map(str, args)], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)

    def run(self, name: str, *cmd: str) -> subprocess.CompletedProcess[str]:
        archive = self.base / "image.tar"
        self.tool("skopeo", "copy", f"oci:{self.store}:{name}", f"oci-archive:{archive}:{name}")
        loaded = self("load", "-i", str(archive))
        assert loaded.returncode == 0, loaded.stderr
        archive.unlink()
        return self("run", "--rm", "--network", "none", f"localhost/{name}", *cmd)


@pytest.fixture
def podman(rb, tool) -> Iterator[Podman]:
    if shutil.which("podman") is None:
        pytest.skip("podman not installed")
    base = Path(tempfile.mkdtemp(prefix="rbr-", dir="/tmp"))  # short: conmon socket paths
    try:
        yield Podman(base, rb.root, tool)
    finally:
        subprocess.run(["podman", "unshare", "rm", "-rf", str(base)], capture_output=True, check=False,
                       stdin=subprocess.DEVNULL, timeout=120)
        shutil.rmtree(base, ignore_errors=True)
