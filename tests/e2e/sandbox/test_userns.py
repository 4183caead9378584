"""The user namespace itself: the full id map, chown, exit status, stdio and signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from nsrun import missing_prerequisite, ns_command, ns_env

pytestmark = pytest.mark.rootless


def run(*argv, input=None, timeout=60):
    return subprocess.run(ns_command(*argv), env=ns_env(), capture_output=True, text=True,
                          input=input, timeout=timeout,
                          stdin=None if input is not None else subprocess.DEVNULL)


def test_the_whole_subordinate_range_is_mapped(subuid_ranges, subgid_ranges):
    if not subuid_ranges or not subgid_ranges:
        missing_prerequisite("the test user has no subordinate ids (make setup)")
    proc = run("cat", "/proc/self/uid_map", "/proc/self/gid_map")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()]
    expected_uid = [["0", str(os.getuid()), "1"]]
    inside = 1
    for start, count in subuid_ranges:
        expected_uid.append([str(inside), str(start), str(count)])
        inside += count
    expected_gid = [["0", str(os.getgid()), "1"]]
    inside = 1
    for start, count in subgid_ranges:
        expected_gid.append([str(inside), str(start), str(count)])
        inside += count
    assert rows == expected_uid + expected_gid
    assert "warning" not in proc.stderr


def test_chown_to_another_id_works_and_lands_on_the_subordinate_id(ns_tmp, subuid_ranges):
    if not subuid_ranges:
        missing_prerequisite("the test user has no subordinate ids (make setup)")
    target = ns_tmp / "owned"
    proc = run("sh", "-c", f"touch {target} && chown 1000:1000 {target} && stat -c %u:%g {target}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1000:1000"
    # Outside, container id 1000 is subordinate id start + 999.
    assert os.stat(target).st_uid == subuid_ranges[0][0] + 999


def test_inside_we_are_root_and_marked():
    code = ("import os; from rootless_build.sandbox.userns import in_userns; "
            "print(os.getuid(), os.getgid(), os.getgroups(), in_userns())")
    proc = run(sys.executable, "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "0", "[]", "True"]
    from rootless_build.sandbox.userns import in_userns
    assert not in_userns()


def test_exit_status_stdin_and_stdout_pass_through():
    proc = run("sh", "-c", "read x; echo got $x; echo err >&2; exit 7", input="hello\n")
    assert proc.returncode == 7
    assert proc.stdout == "got hello\n"
    assert proc.stderr == "err\n"


def test_a_missing_command_is_127_with_one_line():
    proc = run("/no/such/command")
    assert proc.returncode == 127
    assert proc.stderr.strip() == "rootless-build: /no/such/command: No such file or directory"


def test_default_command_is_the_shell():
    env = ns_env() | {"SHELL": "/bin/sh"}
    proc = subprocess.run(ns_command(), env=env, input="id -u; exit 3\n", capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 3
    assert proc.stdout.strip() == "0"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signals_sent_to_us_reach_the_namespaced_command(sig):
    script = f"trap 'echo caught; exit 42' {sig.name[3:]}; echo ready; while :; do sleep 0.05; done"
    proc = subprocess.Popen(ns_command("sh", "-c", script), env=ns_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 42, err
    assert out == "caught\n"


def test_a_command_killed_by_a_signal_gives_128_plus_it():
    proc = run("sh", "-c", "kill -KILL $$")
    assert proc.returncode == 128 + signal.SIGKILL


def test_reexec_runs_the_cli_inside():
    code = ("import sys; from rootless_build.sandbox.userns import reexec_in_userns; "
            "sys.exit(reexec_in_userns(['--version']))")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], env=ns_env(), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "0.1.0" in proc.stdout
    assert time.monotonic() - started < 10


def test_spawn_from_a_threaded_process_returns_the_status():
    # Threads started before spawn() blocks SIGCHLD may take the child's SIGCHLD: once,
    # that left the caller waiting forever. The forked child of a threaded process unshares.
    code = ("import sys, threading; from rootless_build.sandbox.userns import spawn\n"
            "stop = []\n"
            "def busy():\n"
            "    while not stop: [str(i) for i in range(100)]\n"
            "for _ in range(2): threading.Thread(target=busy, daemon=True).start()\n"
            "codes = {spawn(['sh', '-c', 'exit 5'], warn=None) for _ in range(10)}\n"
            "stop.append(1); print(sorted(codes))\n")
    proc = subprocess.run([sys.executable, "-c", code], env=ns_env(), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[5]\n"
