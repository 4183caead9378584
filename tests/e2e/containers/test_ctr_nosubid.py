"""A user with no subordinate ids: containers still run (only the user is mapped, as
root), and `run` says once what that limits."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.nosubid


def test_containers_run_with_the_single_id_mapping(rb, busybox) -> None:
    ran = rb("run", "--rm", busybox, "sh", "-c", "echo hi; id -u")
    assert (ran.returncode, ran.stdout) == (0, "hi\n0\n"), ran.stderr
    assert "warning" in ran.stderr and "subordinate" in ran.stderr and "usermod" in ran.stderr
    started = rb("run", "-d", "--name", "lone", busybox, "sleep", "300")
    assert started.returncode == 0, started.stderr
    assert rb("exec", "lone", "sh", "-c", "echo inside > /f; cat /f").stdout == "inside\n"
    assert rb("stop", "-t", "1", "lone").returncode == 0
    committed = rb("commit", "lone", "lone:1")
    assert committed.returncode == 0, committed.stderr
    assert rb("run", "--rm", "lone:1", "cat", "/f").stdout == "inside\n"
    assert rb("rm", "lone").returncode == 0


def test_published_port_with_the_single_id_mapping(rb, busybox) -> None:
    """slirp4netns enters the namespace as its root either way: ports work without subids."""
    import socket
    import subprocess
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = rb("run", "-d", "--name", "web", "-p", f"{port}:80", busybox, "httpd", "-f", "-p", "80", "-h", "/etc")
    assert started.returncode == 0, started.stderr
    deadline = time.monotonic() + 15
    while True:
        got = subprocess.run(["curl", "-fsS", "-m", "2", f"http://127.0.0.1:{port}/hostname"],
                             capture_output=True, text=True)
        if got.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert got.stdout == started.stdout.strip()[:12] + "\n"
    assert rb("exec", "web", "ls", "/sys/class/net").stdout.split() == ["lo", "tap0"]
    assert rb("rm", "-f", "web").returncode == 0
