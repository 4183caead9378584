"""Fixtures shared by every test: a fresh store, the CLI as a subprocess, the test base
images and real docker-registry processes.

Prerequisites that the machine set-up provides (`make setup testdata`) are skipped with a
reason when absent on a developer's machine, but are errors under CI=true: a green CI must
never hide a missing install step.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
TEST_CACHE = Path(os.environ.get("RB_TEST_CACHE", "/var/cache/rootless-build-test"))
SEEDED_REGISTRY = os.environ.get("RB_SEEDED_REGISTRY", "localhost:5000")
CLI_TIMEOUT = 300.0

# Test the code beside these tests, whatever else the interpreter has installed (the shared
# venv's editable install points at /opt/rootless-build/src, which may be a stale copy).
if sys.path[:1] != [str(REPO)]:
    sys.path.insert(0, str(REPO))


def missing_prerequisite(reason: str) -> None:
    """Skip (developer machine) or fail (CI) because the machine set-up is incomplete."""
    if os.environ.get("CI"):
        pytest.fail(f"machine set-up incomplete: {reason}", pytrace=False)
    pytest.skip(reason)


def _has_subuid_range() -> bool:
    try:
        lines = Path("/etc/subuid").read_text().splitlines()
    except FileNotFoundError:
        return False
    me = {getpass.getuser(), str(os.getuid())}
    return any(line.split(":", 1)[0] in me for line in lines if ":" in line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # `rootless` tests prove behaviour for an unprivileged user; as root they would pass
    # for the wrong reasons. `nosubid` tests need a user without subordinate ids; for
    # rbnosub they always run, so a wrongly configured rbnosub fails rather than skips.
    as_root = os.getuid() == 0
    wrong_for_nosubid = getpass.getuser() != "rbnosub" and (as_root or _has_subuid_range())
    skip_rootless = pytest.mark.skip(reason="rootless test: run as an unprivileged user (make test)")
    skip_nosubid = pytest.mark.skip(reason="nosubid test: run as a user without subordinate ids (make test)")
    for item in items:
        if as_root and item.get_closest_marker("rootless"):
            item.add_marker(skip_rootless)
        if wrong_for_nosubid and item.get_closest_marker("nosubid"):
            item.add_marker(skip_nosubid)


# --- store and CLI ----------------------------------------------------------------------


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    """An empty, existing directory to use as the store (`--root`)."""
    root = tmp_path / "store"
    root.mkdir()
    return root


RunCLI = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def rb(store_root: Path) -> RunCLI:
    """Run `python -m rootless_build --root STORE ARGS...`; never raises on exit status.

    rb(*args, input=None, env=None, cwd=None, timeout=300) -> CompletedProcess[str]
    `env` entries are added to (or, with value None, removed from) the current environment.
    `rb.root` is the store directory.
    """

    def run(
        *args: str | os.PathLike[str],
        input: str | None = None,
        env: dict[str, str | None] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        timeout: float = CLI_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        full_env = dict(os.environ)
        # Wide, plain output: tables must not wrap or carry colour codes in assertions.
        full_env.update({"COLUMNS": "200", "NO_COLOR": "1"})
        pythonpath = full_env.get("PYTHONPATH")
        full_env["PYTHONPATH"] = f"{REPO}{os.pathsep}{pythonpath}" if pythonpath else str(REPO)
        for key, value in (env or {}).items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        cmd = [sys.executable, "-m", "rootless_build", "--root", str(store_root)]
        return subprocess.run(
            [*cmd, *map(str, args)],
            input=input,
            capture_output=True,
            text=True,
            check=False,
            env=full_env,
            cwd=cwd,
            timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )

    run.root = store_root  # type: ignore[attr-defined]
    return run


# --- test base images -------------------------------------------------------------------


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of the busybox rootfs tarball (uncompressed, owners 0:0, deterministic)."""
    cached = TEST_CACHE / "busybox.tar"
    if cached.is_file() and os.access(cached, os.R_OK):
        return cached
    if not Path("/bin/busybox").is_file():
        missing_prerequisite(f"{cached} missing and busybox-static not installed (make testdata)")
    # The busybox image needs no privileges to make: build it for this session.
    out = tmp_path_factory.mktemp("busybox") / "busybox.tar"
    proc = subprocess.run(
        [str(SCRIPTS / "make-busybox-rootfs.sh"), str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if proc.returncode != 0:
        missing_prerequisite(f"{cached} missing and make-busybox-rootfs.sh failed: {proc.stderr.strip()}")
    return out


@pytest.fixture(scope="session")
def debian_tar() -> Path:
    """Path of the Debian bookworm minbase rootfs tarball (uncompressed, numeric owners)."""
    cached = TEST_CACHE / "debian.tar"
    if not (cached.is_file() and os.access(cached, os.R_OK)):
        missing_prerequisite(f"{cached} missing: debootstrap needs root (make testdata)")
    return cached


# --- registries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Registry:
    """A running docker-registry. `address` is "127.0.0.1:PORT" (plain HTTP)."""

    address: str
    storage: Path
    username: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _registry_script(action: str, port: int, directory: Path,
                     htpasswd: Path | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("RB_REGISTRY_HTPASSWD", None)
    if htpasswd is not None:
        env["RB_REGISTRY_HTPASSWD"] = str(htpasswd)
    return subprocess.run(
        [str(SCRIPTS / "test-registry.sh"), action, str(port), str(directory)],
        capture_output=True, text=True, timeout=60, check=False, env=env, stdin=subprocess.DEVNULL,
    )


def _start_registry(directory: Path, htpasswd: Path | None = None) -> tuple[int, Path]:
    if shutil.which("docker-registry") is None:
        missing_prerequisite("docker-registry not installed (make setup)")
    errors = []
    for _ in range(3):  # another process may take the free port before the registry binds it
        port = _free_port()
        proc = _registry_script("start", port, directory, htpasswd)
        if proc.returncode == 0:
            return port, directory
        errors.append(proc.stderr.strip())
    pytest.fail("docker-registry did not start:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture(scope="session")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A session-wide docker-registry with no auth on a free 127.0.0.1 port."""
    directory = tmp_path_factory.mktemp("registry")
    port, _ = _start_registry(directory)
    try:
        yield Registry(address=f"127.0.0.1:{port}", storage=directory / "data")
    finally:
        _registry_script("stop", port, directory, None)


@pytest.fixture(scope="session")
def registry(registry_server: Registry) -> str:
    """Address "127.0.0.1:PORT" of the session's own docker-registry (plain HTTP, no auth,
    delete enabled). Tests share it: use unique repository names."""
    return registry_server.address


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A second docker-registry that requires basic auth (htpasswd, bcrypt) over plain
    HTTP; `.username` / `.password` are valid credentials."""
    if shutil.which("htpasswd") is None:
        missing_prerequisite("htpasswd not installed (apache2-utils; make setup)")
    directory = tmp_path_factory.mktemp("auth-registry")
    username, password = "rbtest", "rbtest-secret"
    htpasswd = directory / "htpasswd"
    made = subprocess.run(
        ["htpasswd", "-Bbn", username, password], capture_output=True, text=True, check=True
    )
    htpasswd.write_text(made.stdout)
    port, _ = _start_registry(directory, htpasswd)
    try:
        yield Registry(f"127.0.0.1:{port}", directory / "data", username, password)
    finally:
        _registry_script("stop", port, directory, htpasswd)


@pytest.fixture(scope="session")
def seeded_registry() -> str:
    """Address of the shared registry that `make test` starts and seeds with
    busybox:latest and debian:latest (default "localhost:5000", env RB_SEEDED_REGISTRY).
    Read-only for tests: push to `registry` instead."""
    url = f"http://{SEEDED_REGISTRY}/v2/busybox/tags/list"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            seeded = b'"latest"' in resp.read()
    except (urllib.error.URLError, OSError):
        seeded = False
    if not seeded:
        missing_prerequisite(f"no seeded registry at {SEEDED_REGISTRY} (make test starts one)")
    return SEEDED_REGISTRY


# --- the reference dockerd (tests only) ---------------------------------------------------

DOCKERD_HELPER = "/usr/local/libexec/rootless-build/test-dockerd"
DOCKER_CLI = "/usr/bin/docker"  # Debian's docker.io client; /usr/local/bin may hold another


@dataclass(frozen=True)
class Dockerd:
    """A private dockerd started as root for this test session: Debian's docker.io, its own
    socket, data root and exec root under the session's temp dir, no bridge, no iptables.
    `docker(*args)` runs its client; `host` is the socket URL (`unix://...`)."""

    directory: Path

    @property
    def host(self) -> str:
        return f"unix://{self.directory}/docker.sock"

    def docker(
        self, *args: str | os.PathLike[str], check: bool = True, timeout: float = 300,
        env: dict[str, str] | None = None, input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "DOCKER_HOST": self.host,
                    "DOCKER_CONFIG": str(self.directory / "client"), **(env or {})}
        proc = subprocess.run(
            [DOCKER_CLI, *map(str, args)], capture_output=True, text=True, check=False,
            env=full_env, timeout=timeout, input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def tag_from(self, registry: str, *names: str) -> None:
        """Pull `registry/NAME` (the test registry, never the internet) and tag it `NAME`."""
        for name in names:
            self.docker("pull", "-q", f"{registry}/{name}")
            self.docker("tag", f"{registry}/{name}", name)


def _dockerd_helper(action: str, directory: Path) -> subprocess.CompletedProcess[str]:
    cmd = [DOCKERD_HELPER, action, str(directory)]
    if os.getuid() != 0:
        cmd = ["sudo", "-n", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def dockerd(tmp_path_factory: pytest.TempPathFactory, seeded_registry: str) -> Iterator[Dockerd]:
    """The session's reference dockerd, with busybox:latest and debian:latest tagged from
    the seeded test registry. Stopped, and its state removed, at the end of the session."""
    if not (Path(DOCKERD_HELPER).is_file() and Path(DOCKER_CLI).is_file()):
        missing_prerequisite(f"{DOCKERD_HELPER} or {DOCKER_CLI} missing (make setup)")
    directory = Path(os.path.realpath(tmp_path_factory.mktemp("dockerd")))
    started = _dockerd_helper("start", directory)
    if started.returncode != 0:
        missing_prerequisite(f"the test dockerd did not start: {started.stderr.strip()}")
    try:
        daemon = Dockerd(directory)
        daemon.tag_from(seeded_registry, "busybox:latest", "debian:latest")
        yield daemon
    finally:
        _dockerd_helper("stop", directory)
