"""Fixtures for the sandbox tests: code run inside a real user namespace (as the test user,
through rootless_build.sandbox.userns.run_unshare), a busybox root filesystem extracted
inside it, and scratch dirs removed from inside it (they hold subordinate-id files)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nsrun import ns_command, ns_env, parse_result, remove_in_ns, write_script


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "nosubid: run as a user without subordinate ids (rbnosub)")


InNs = Callable[..., object]


@pytest.fixture(scope="session")
def script_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ns-scripts")


@pytest.fixture(scope="session")
def in_ns(script_dir: Path) -> InNs:
    """in_ns(code, *args, timeout=120) runs Python code (with nshelp's helpers imported,
    ARGS = args) as root of a user namespace, and returns what it emit()ted. A non-zero
    exit or no result fails the test with the inner stderr."""

    def run(code: str, *args: str | os.PathLike, timeout: float = 120):
        script = write_script(script_dir, code)
        proc = subprocess.run(ns_command(sys.executable, script, *args), env=ns_env(),
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        result = parse_result(proc.stdout)
        if proc.returncode != 0 or result is None:
            pytest.fail(f"inner code exited {proc.returncode}:\n{proc.stderr[-4000:]}\n"
                        f"stdout:\n{proc.stdout[-2000:]}", pytrace=False)
        return result

    return run


@pytest.fixture
def ns_tmp(tmp_path: Path) -> Iterator[Path]:
    """A scratch dir whose contents (owned by subordinate ids) are removed in the namespace."""
    work = tmp_path / "ns"
    work.mkdir()
    yield work
    remove_in_ns(work)


@pytest.fixture(scope="session")
def rootfs(busybox_tar: Path, in_ns: InNs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The busybox image extracted (inside the namespace) once per session: a lower dir."""
    base = tmp_path_factory.mktemp("rootfs")
    in_ns("extract(ARGS[0], ARGS[1]); emit(True)", busybox_tar, base / "busybox")
    yield base / "busybox"
    remove_in_ns(base)
