"""The tool's own image (scripts/image), built once per session by the code under test,
loaded into rootless podman (as this user) and into the session's private dockerd."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = REPO / "scripts" / "image" / "build.sh"
CI_CONTEXT = REPO / "testdata" / "ci"


def _run(argv: list[str], timeout: float = 900, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False, **kw)


@pytest.fixture(scope="session")
def tool_image_store(tool_image_archive: Path) -> Path:
    """The store holding the tool's image as `rootless-build:test` (for nested runs)."""
    return tool_image_archive.parent / "store"


@pytest.fixture(scope="session")
def tool_image_archive(tmp_path_factory: pytest.TempPathFactory, seeded_registry: str) -> Iterator[Path]:
    """A docker-archive of the tool's image, built with this checkout's CLI by `scripts/image/build.sh`."""
    work = tmp_path_factory.mktemp("tool-image")
    store = work / "store"
    rb = f"{sys.executable} -m rootless_build --root {store}"
    env = {**os.environ, "RB": rb, "PIP": f"{sys.executable} -m pip", "RB_IMAGE_REGISTRY": seeded_registry,
           "PYTHONPATH": str(REPO), "TMPDIR": str(work)}
    built = _run(["sh", str(BUILD_SCRIPT), "rootless-build:test", "--", "-q"], env=env)
    if built.returncode != 0:
        pytest.fail(f"building the tool's image failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}",
                    pytrace=False)
    archive = work / "rootless-build.tar"
    saved = _run([sys.executable, "-m", "rootless_build", "--root", str(store), "save", "--format",
                  "docker-archive", "-o", str(archive), "rootless-build:test"], env=env)
    assert saved.returncode == 0, saved.stderr
    try:
        yield archive
    finally:
        # Its unpacked layers hold files of subordinate ids: removed from inside the namespace.
        _run([sys.executable, "-m", "rootless_build", "--root", str(store), "unshare", "rm", "-rf", "--",
              str(store)], env=env)


@pytest.fixture(scope="session")
def podman_image(tool_image_archive: Path) -> Iterator[str]:
    """The tool's image in this user's rootless podman, under a name of this session's own."""
    if shutil.which("podman") is None:
        if os.environ.get("CI"):
            pytest.fail("podman is not installed (make setup)", pytrace=False)
        pytest.skip("podman is not installed")
    name = f"localhost/rootless-build-ci-{uuid.uuid4().hex[:8]}:test"
    loaded = _run(["podman", "load", "-q", "-i", str(tool_image_archive)])
    assert loaded.returncode == 0, loaded.stderr
    assert _run(["podman", "tag", "localhost/rootless-build:test", name]).returncode == 0
    _run(["podman", "untag", "localhost/rootless-build:test", "localhost/rootless-build:test"])
    try:
        yield name
    finally:
        _run(["podman", "rmi", "-f", name])


@pytest.fixture(scope="session")
def docker_image(tool_image_archive: Path, dockerd) -> str:
    """The tool's image loaded into the session's private dockerd (gone with it)."""
    dockerd.docker("load", "-q", "-i", tool_image_archive, timeout=600)
    return "rootless-build:test"
