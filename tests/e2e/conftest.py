"""Fixtures for end-to-end tests: the current user's subordinate id ranges and a runner
for the reference tools (skopeo, umoci, podman, buildah) used to check our results."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

TOOL_TIMEOUT = 300.0


def subid_ranges(path: str | os.PathLike[str], user: str, uid: int) -> list[tuple[int, int]]:
    """(start, count) ranges for `user` in an /etc/subuid-style file (by name or id)."""
    ranges = []
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        fields = line.strip().split(":")
        if len(fields) == 3 and fields[0] in (user, str(uid)):
            ranges.append((int(fields[1]), int(fields[2])))
    return ranges


@pytest.fixture(scope="session")
def subuid_ranges() -> list[tuple[int, int]]:
    """The current user's /etc/subuid ranges, [] if none."""
    return subid_ranges("/etc/subuid", getpass.getuser(), os.getuid())


@pytest.fixture(scope="session")
def subgid_ranges() -> list[tuple[int, int]]:
    """The current user's /etc/subgid ranges, [] if none."""
    return subid_ranges("/etc/subgid", getpass.getuser(), os.getuid())


RunTool = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def tool() -> RunTool:
    """Run an external command: tool("skopeo", "inspect", ..., check=True, timeout=300,
    input=None, cwd=None). With check=True a failure fails the test showing the command,
    its exit code and stderr (not a CalledProcessError traceback)."""

    def run(
        *cmd: str | os.PathLike[str],
        check: bool = True,
        timeout: float = TOOL_TIMEOUT,
        input: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(c) for c in cmd]
        proc = subprocess.run(
            argv,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            check=False,
        )
        if check and proc.returncode != 0:
            pytest.fail(
                f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr.strip()}", pytrace=False
            )
        return proc

    return run


REPO = Path(__file__).resolve().parents[2]


def bench_cases() -> Path:
    """$RB_BENCH_CASES, else ../shared/bench-cases beside the tree (`make sync` puts a copy
    beside the synced tree under /opt), else the work tree's."""
    for candidate in (os.environ.get("RB_BENCH_CASES"), REPO.parent / "shared" / "bench-cases",
                      "/work/shared/bench-cases"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    pytest.fail("bench cases not found (set RB_BENCH_CASES)")


@pytest.fixture
def case(tmp_path: Path):
    """case(name) -> a private copy of a bench case's context, prepare.sh run in it."""

    def copy_case(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(bench_cases() / name, target)
        for path in [target, *target.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o200)  # the shared cases are read-only
        prepare = target / "prepare.sh"
        if prepare.exists():
            subprocess.run(["sh", str(prepare), str(target)], cwd=target, check=True, timeout=600)
        return target

    return copy_case



@pytest.fixture
def logged_registry(tmp_path: Path):
    """A docker-registry of the test's own, empty, with its access log on (which blobs were
    fetched, ranged GETs answered 206): yields ("127.0.0.1:PORT", the log's path)."""
    import socket
    import time

    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry not installed (make setup)")
    directory = tmp_path / "logged-registry"
    directory.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = directory / "config.yml"
    config.write_text("\n".join([
        "version: 0.1", "log:", "  level: info", "  formatter: text",
        "storage:", "  filesystem:", f"    rootdirectory: {directory / 'data'}",
        "http:", f"  addr: 127.0.0.1:{port}", ""]))
    log = directory / "registry.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.05)
        yield f"127.0.0.1:{port}", log
    finally:
        proc.terminate()
        proc.wait(timeout=10)
