"""No daemon: monitors that outlive the CLI, stale state after a monitor dies, several
containers from one image, stop's timeout, exec, logs, exit statuses."""

from __future__ import annotations

import os
import signal
import time

import pytest
from ctrhelp import record

pytestmark = pytest.mark.rootless


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _run_detached(rb, *args: str) -> str:
    done = rb("run", "-d", *args)
    assert done.returncode == 0, done.stderr
    container_id = done.stdout.strip()
    assert len(container_id) == 64
    return container_id


def test_monitor_outlives_the_cli(rb, busybox, store_root) -> None:
    cid = _run_detached(rb, "--name", "sleeper", busybox, "sleep", "300")
    # the CLI that started it has exited (rb waited for it); the monitor is its own session
    state = record(store_root, cid)["state"]
    assert state["status"] == "running" and _alive(state["monitor_pid"]) and _alive(state["pid"])
    assert os.getsid(state["monitor_pid"]) != os.getsid(0)      # its own session: no terminal
    listed = rb("ps")
    line = next(row for row in listed.stdout.splitlines() if "sleeper" in row)
    assert line.startswith(cid[:12]) and "Up " in line


def test_killed_monitor_shows_exited_and_rm_removes(rb, busybox, store_root) -> None:
    cid = _run_detached(rb, "--name", "orphan", busybox, "sleep", "300")
    state = record(store_root, cid)["state"]
    os.kill(state["monitor_pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(state["monitor_pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "orphan" not in rb("ps").stdout
    line = next(row for row in rb("ps", "-a").stdout.splitlines() if "orphan" in row)
    assert "Exited (" in line and "Up" not in line
    deadline = time.monotonic() + 10
    while _alive(state["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(state["pid"]), "the container's processes outlived their monitor"
    removed = rb("rm", "orphan")
    assert removed.returncode == 0, removed.stderr
    assert not (store_root / "containers" / cid).exists()


def test_two_containers_from_one_image_at_once(rb, busybox) -> None:
    a = _run_detached(rb, busybox, "sleep", "300")
    b = _run_detached(rb, busybox, "sleep", "300")
    assert rb("ps", "-q").stdout.split() == [b[:12], a[:12]]          # newest first
    assert rb("exec", a, "sh", "-c", "echo a > /only-in-a").returncode == 0
    assert rb("exec", a, "cat", "/only-in-a").stdout == "a\n"
    missing = rb("exec", b, "cat", "/only-in-a")
    assert missing.returncode == 1 and "No such file" in missing.stderr
    assert rb("exec", a, "hostname").stdout.strip() == a[:12]
    assert rb("exec", b, "hostname").stdout.strip() == b[:12]
    as_user = rb("exec", "-u", "1000:1000", "-w", "/tmp", "-e", "X=y", a, "sh", "-c", "echo $(id -u) $(pwd) $X")
    assert as_user.stdout == "1000 /tmp y\n", as_user.stderr
    assert rb("exec", a, "no-such-command").returncode == 127
    # each container has its own pid namespace: a handful of processes, the host's unseen
    pids = rb("exec", a, "sh", "-c", "ls /proc | grep '^[0-9]'").stdout.split()
    assert "1" in pids and len(pids) < 10


def test_stop_of_a_process_ignoring_sigterm_kills_after_the_timeout(rb, busybox, store_root) -> None:
    cid = _run_detached(rb, busybox, "sh", "-c", "trap '' TERM; sleep 100; sleep 100")
    time.sleep(0.5)
    began = time.monotonic()
    stopped = rb("stop", "-t", "2", cid)
    took = time.monotonic() - began
    assert stopped.returncode == 0, stopped.stderr
    assert 1.8 <= took < 8
    state = record(store_root, cid)["state"]
    assert (state["status"], state["exit_code"]) == ("exited", 137)
    assert "Exited (137)" in rb("ps", "-a").stdout


def test_stop_of_an_ordinary_process_is_quick(rb, busybox, store_root) -> None:
    # as with docker, a pid 1 without a SIGTERM handler ignores it: --init forwards it
    cid = _run_detached(rb, "--init", busybox, "sleep", "100")
    began = time.monotonic()
    assert rb("stop", cid).returncode == 0
    assert time.monotonic() - began < 5
    assert record(store_root, cid)["state"]["exit_code"] == 143


def test_exit_statuses(rb, busybox) -> None:
    assert rb("run", "--rm", busybox, "sh", "-c", "exit 7").returncode == 7
    missing = rb("run", "--rm", busybox, "no-such-command")
    assert missing.returncode == 127
    not_exec = rb("run", "--rm", busybox, "/etc/passwd")
    assert not_exec.returncode == 126
    own = rb("run", "--rm", "no-such-image-here:1")
    assert own.returncode == 125 and own.stderr.startswith("Error: ")
    no_user = rb("run", "--rm", "-u", "nosuch", busybox, "id")
    assert no_user.returncode == 125 and "unable to find user nosuch" in no_user.stderr
    assert rb("ps", "-aq").stdout == ""                 # --rm left nothing behind


def test_run_options(rb, busybox, tmp_path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)         # writable for the container's uid 1000 (a subordinate id here)
    (shared / "in").write_text("from-host\n")
    env_file = tmp_path / "env"
    env_file.write_text("FROM_FILE=yes\n")
    done = rb("run", "--rm", "-e", "A=1", "--env-file", env_file, "-w", "/tmp", "-u", "1000:1000",
              "--hostname", "hosty", "-v", f"{shared}:/shared", "-v", f"{shared}:/ro:ro", busybox,
              "sh", "-c", "echo $A $FROM_FILE $(pwd) $(id -u):$(id -g) $(hostname) $(cat /shared/in); "
                          "echo out > /shared/out; touch /ro/x 2>/dev/null || echo ro")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["1 yes /tmp 1000:1000 hosty from-host", "ro"]
    assert (shared / "out").read_text() == "out\n"
    none = rb("run", "--rm", "--network", "none", busybox, "sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1")
    assert none.stdout.split() == ["lo"], none.stderr
    entry = rb("run", "--rm", "--entrypoint", "echo", busybox, "a", "b")
    assert entry.stdout == "a b\n"


def test_logs_wait_and_interactive_pipes(rb, busybox, store_root) -> None:
    _run_detached(rb, "--name", "talker", busybox, "sh", "-c", "echo one; echo two >&2; sleep 1; echo three")
    follow = rb("logs", "-f", "talker")
    assert follow.stdout == "one\nthree\n" and follow.stderr == "two\n"
    assert rb("wait", "talker").stdout.strip() == "0"
    assert rb("logs", "--tail", "1", "talker").stdout == "three\n"
    piped = rb("run", "-i", "--rm", busybox, "sh", "-c", "tr a-z A-Z; exit 3", input="hello\n")
    assert (piped.returncode, piped.stdout) == (3, "HELLO\n")
    gone = _run_detached(rb, "--rm", busybox, "sh", "-c", "sleep 1; exit 4")
    assert rb("wait", gone).stdout.strip() == "4"
    assert gone[:12] not in rb("ps", "-aq").stdout


def test_rm_refuses_a_running_container_unless_forced(rb, busybox, store_root) -> None:
    cid = _run_detached(rb, busybox, "sh", "-c", "mkdir -p /d && chown 1000:1000 /d && touch /d/f && sleep 300")
    time.sleep(0.5)
    refused = rb("rm", cid)
    assert refused.returncode != 0 and "running" in refused.stderr
    forced = rb("rm", "-f", cid)
    assert forced.returncode == 0, forced.stderr
    assert not (store_root / "containers" / cid).exists()      # subordinate-id files too


def test_kill_with_a_signal(rb, busybox, store_root) -> None:
    # pid 1 gets only the signals it handles (as with docker): --init passes USR1 on to sleep
    cid = _run_detached(rb, "--init", busybox, "sleep", "300")
    assert rb("kill", "-s", "USR1", cid).returncode == 0
    assert rb("wait", cid).stdout.strip() == str(128 + signal.SIGUSR1)
    assert rb("kill", cid).returncode != 0          # not running any more


def test_exec_interactive_tty(cli_argv, rb, busybox) -> None:
    import pexpect
    from ctrhelp import pexpect_env

    cid = _run_detached(rb, busybox, "sleep", "300")
    child = pexpect.spawn(cli_argv[0], [*cli_argv[1:], "exec", "-it", cid, "sh"], timeout=30,
                          env=pexpect_env(), encoding="utf-8")
    child.expect(r"[#$] ")
    child.sendline("tty; echo $((7*6))")
    child.expect("42")
    child.sendline("exit 4")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 4


def test_podman_runs_a_committed_image(rb, busybox, store_root, tmp_path, tool) -> None:
    cid = _run_detached(rb, busybox, "sh", "-c", "echo podman-sees-this > /greeting; rm /bin/vi; sleep 300")
    time.sleep(0.5)
    committed = rb("commit", "--change", "CMD cat /greeting; ls /bin/vi 2>&1", cid, "committed:podman")
    assert committed.returncode == 0, committed.stderr
    archive = tmp_path / "committed.tar"
    tool("skopeo", "copy", f"oci:{store_root}:committed:podman", f"oci-archive:{archive}:committed:podman")
    loaded = tool("podman", "load", "-q", "-i", archive)
    name = loaded.stdout.strip().rsplit(" ", 1)[-1]
    try:
        ran = tool("podman", "run", "--rm", name, check=False)
        assert ran.stdout.splitlines()[0] == "podman-sees-this", ran.stderr
        assert "No such file" in ran.stdout         # the deletion (a whiteout) applied too
    finally:
        tool("podman", "rmi", "-f", name, check=False)
