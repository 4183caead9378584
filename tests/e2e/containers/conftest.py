"""Fixtures for container tests: the busybox image imported into the test's store, the
CLI as an argv for pexpect, and clean-up of every container a test leaves behind (their
upper dirs and unpacked layers hold subordinate-id files only the user namespace can
delete)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BUSYBOX = "localhost:5000/busybox:latest"


@pytest.fixture
def cli_argv(store_root: Path) -> list[str]:
    return [sys.executable, "-m", "rootless_build", "--root", str(store_root)]


@pytest.fixture
def busybox(rb, busybox_tar: Path) -> Iterator[str]:
    """BUSYBOX imported into the test's store; every container is removed afterwards."""
    done = rb("import", busybox_tar, BUSYBOX)
    assert done.returncode == 0, done.stderr
    yield BUSYBOX
    listed = rb("ps", "-aq", "--no-trunc")
    ids = listed.stdout.split()
    if ids:
        rb("rm", "-f", *ids, timeout=120)
    # unpacked layers of committed images hold subordinate-id files too
    rb("unshare", "rm", "-rf", "--", rb.root / "layers")
    # so do volumes filled from images or written by containers
    rb("unshare", "rm", "-rf", "--", rb.root / "volumes")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "nosubid: run as a user without subordinate ids (rbnosub)")
