"""A container does not depend on the CLI that started it (issue 11 item 14), its pid 1 is
recorded with its real start time (never 0: issue 17), and the attach socket's directory
must be ours (issue 11 item 8)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from ctrhelp import record

pytestmark = pytest.mark.rootless


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _containers(store_root: Path) -> list[Path]:
    folder = store_root / "containers"
    return [p for p in folder.iterdir() if (p / "container.json").exists()] if folder.is_dir() else []


def _state(folder: Path) -> dict:
    try:
        return json.loads((folder / "state.json").read_bytes())
    except (OSError, ValueError):
        return {}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _start_cli(cli_argv: list[str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([*cli_argv, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


@pytest.mark.parametrize("detach", [False, True], ids=["attached", "detached"])
def test_kill_9_of_the_run_client_leaves_the_container_running(cli_argv, rb, busybox, store_root,
                                                               detach) -> None:
    # detached: killed while the monitor is still starting the container (before "ready")
    client = _start_cli(cli_argv, "run", *(["-d"] if detach else []), "--name", "lone",
                        busybox, "sh", "-c", "sleep 3; echo done")
    _wait_for(lambda: _containers(store_root), 30, "the container's record")
    folder = _containers(store_root)[0]
    if detach:      # the monitor listens, and starts the container: the CLI still waits
        sock = Path(os.environ["XDG_RUNTIME_DIR"]) / "rootless-build" / "containers" / folder.name / "attach.sock"
        _wait_for(sock.exists, 30, "the monitor's socket")
    else:
        _wait_for(lambda: _state(folder).get("status") == "running", 30, "the container to run")
    client.kill()
    client.wait()
    _wait_for(lambda: _state(folder).get("status") == "running", 30, "the container to run")
    time.sleep(0.5)
    state = _state(folder)
    assert state["status"] == "running" and _alive(state["pid"]) and _alive(state["monitor_pid"])
    _wait_for(lambda: _state(folder).get("status") == "exited", 30, "the container's exit")
    assert _state(folder)["exit_code"] == 0
    assert "done" in rb("logs", "lone").stdout


def test_kill_9_of_the_run_client_still_removes_with_rm(cli_argv, busybox, store_root) -> None:
    client = _start_cli(cli_argv, "run", "--rm", busybox, "sh", "-c", "sleep 2")
    _wait_for(lambda: _containers(store_root), 30, "the container's record")
    folder = _containers(store_root)[0]
    _wait_for(lambda: _state(folder).get("status") == "running", 30, "the container to run")
    client.kill()
    client.wait()
    time.sleep(0.5)
    assert _alive(_state(folder)["pid"])                 # runs on without its client
    _wait_for(lambda: not folder.exists(), 30, "--rm to remove the container")


def test_start_time_is_recorded_and_checked_before_signalling(rb, busybox, store_root) -> None:
    started = rb("run", "-d", busybox, "sleep", "300")
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip()
    state = record(store_root, cid)["state"]
    with open(f"/proc/{state['pid']}/stat") as f:
        assert state["pid_start"] == int(f.read().rsplit(")", 1)[1].split()[19]) != 0
    # A record naming another process (a reused pid) with an unknown start time: no signal.
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        path = store_root / "containers" / cid / "state.json"
        original = path.read_bytes()
        path.write_text(json.dumps({**state, "pid": bystander.pid, "pid_start": 0}))
        killed = rb("kill", cid)
        assert killed.returncode != 0 and killed.stderr.count("\n") == 1
        time.sleep(0.2)
        assert bystander.poll() is None, "a process that is not the container's was signalled"
        path.write_bytes(original)
    finally:
        bystander.kill()
        bystander.wait()


def test_attach_socket_dir_owned_by_someone_else_is_refused(rb, busybox, tmp_path) -> None:
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    # uid 1 of our user namespace is a subordinate id on the host: another user's dir
    made = rb("unshare", "sh", "-c", f"mkdir -m 700 {runtime}/rootless-build && chown 1:1 {runtime}/rootless-build")
    assert made.returncode == 0, made.stderr
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    refused = rb("run", "--rm", busybox, "true", env=env)
    assert refused.returncode == 125 and refused.stderr.count("\n") == 1, refused.stderr
    assert "not by you" in refused.stderr and "Traceback" not in refused.stderr
    rb("unshare", "rm", "-rf", f"{runtime}/rootless-build")


def test_fallback_runtime_dir_open_to_others_is_refused(rb, busybox, tmp_path) -> None:
    """Without XDG_RUNTIME_DIR: /tmp/rootless-build-UID must be ours and 0700. The test
    loosens it to 0777 (as a squatter would leave it) and puts it back afterwards."""
    base = Path(f"/tmp/rootless-build-{os.getuid()}")
    existed = base.exists()
    base.mkdir(mode=0o700, exist_ok=True)
    before = base.stat().st_mode & 0o777
    try:
        base.chmod(0o777)
        refused = rb("run", "--rm", busybox, "true", env={"XDG_RUNTIME_DIR": None})
        assert refused.returncode == 125 and refused.stderr.count("\n") == 1, refused.stderr
        assert "mode 777" in refused.stderr
        base.chmod(0o700)
        ran = rb("run", "--rm", busybox, "true", env={"XDG_RUNTIME_DIR": None})
        assert ran.returncode == 0, ran.stderr
        assert base.stat().st_mode & 0o777 == 0o700
    finally:
        base.chmod(before if existed else 0o700)
