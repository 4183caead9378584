"""Fixtures for the image-command tests: busybox imported into a fresh store, and a
throwaway rootless podman (its own --root/--runroot, vfs) to load and run exports."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

BUSYBOX = "localhost:5000/busybox:latest"


@pytest.fixture
def busybox(rb, busybox_tar) -> str:
    """Import the busybox rootfs as localhost:5000/busybox:latest; returns the image ID."""
    proc = rb("import", busybox_tar, BUSYBOX)
    assert proc.returncode == 0, proc.stderr
    image_id = proc.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    return image_id


class Podman:
    def __init__(self, base: Path):
        self.base = base
        self.argv = ["podman", "--root", str(base / "root"), "--runroot", str(base / "run"),
                     "--storage-driver", "vfs"]

    def __call__(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.argv, *map(str, args)], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)


@pytest.fixture
def podman() -> Iterator[Podman]:
    """Rootless podman on a store of its own, removed afterwards (its files belong to
    sub-ids, so they are removed from inside `podman unshare`)."""
    if shutil.which("podman") is None:
        pytest.skip("podman not installed")
    # Short path: conmon's attach socket path must fit in a sockaddr_un.
    base = Path(tempfile.mkdtemp(prefix="rbp-", dir="/tmp"))
    try:
        yield Podman(base)
    finally:
        subprocess.run(["podman", "unshare", "rm", "-rf", str(base)], capture_output=True, check=False,
                       stdin=subprocess.DEVNULL, timeout=120)
        shutil.rmtree(base, ignore_errors=True)
