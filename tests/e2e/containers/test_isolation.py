"""A container's process is isolated as docker isolates it: pid 1 is the command itself
(no Python of ours, no host fd, no host environment), docker's default capabilities,
no_new_privs, moby's seccomp profile, masked and read-only paths; and the flags that
change them (issue 11 item 6, issue 17 part 1)."""

from __future__ import annotations

import json
import time

import pytest
from ctrhelp import record

pytestmark = pytest.mark.rootless

MARKER = {"ISO_SECRET_MARKER": "leaked-token-7f3a"}
DOCKER_CAPS = "00000000a80425fb"
PROBE = ("echo environ:; tr '\\0' '\\n' < /proc/1/environ; "
         "echo fds:; ls -l /proc/1/fd /proc/self/fd; "
         "echo all-environ:; cat /proc/[0-9]*/environ | tr '\\0' '\\n'; "
         "echo cmdline:; tr '\\0' ' ' < /proc/1/cmdline; echo")


def _caps(text: str) -> dict[str, str]:
    return dict(line.replace(":", "").split() for line in text.splitlines()
                if line.startswith(("Cap", "NoNewPrivs", "Seccomp:")))


def _assert_no_host_leak(output: str) -> None:
    assert "leaked-token-7f3a" not in output
    assert "ISO_SECRET_MARKER" not in output
    fds = output.split("fds:", 1)[1].split("all-environ:", 1)[0]
    for line in fds.splitlines():
        if "->" in line:
            target = line.split("->", 1)[1].strip()
            # stdio only: /dev/null, pipes, a pty; no file of the host (store, lock, venv)
            assert target.startswith(("/dev/", "pipe:", "/proc/")), line
    assert "python" not in output.split("cmdline:", 1)[1]


def test_pid1_of_an_attached_container_is_its_command(rb, busybox) -> None:
    done = rb("run", "--rm", busybox, "sh", "-c", PROBE, env=MARKER)
    assert done.returncode == 0, done.stderr
    _assert_no_host_leak(done.stdout)
    assert done.stdout.split("cmdline:", 1)[1].strip().startswith("sh -c echo environ:")
    environ = done.stdout.split("environ:", 1)[1].split("fds:", 1)[0].split()
    assert sorted(k.split("=")[0] for k in environ) == ["HOME", "HOSTNAME", "PATH"]


def test_pid1_of_a_detached_container_seen_through_exec(rb, busybox) -> None:
    started = rb("run", "-d", busybox, "sleep", "300", env=MARKER)
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip()
    seen = rb("exec", cid, "sh", "-c", PROBE)
    assert seen.returncode == 0, seen.stderr
    _assert_no_host_leak(seen.stdout)
    assert seen.stdout.split("cmdline:", 1)[1].split() == ["sleep", "300"]
    # exec'd processes get the container's hardening too, as with docker exec
    status = _caps(rb("exec", cid, "cat", "/proc/self/status").stdout)
    assert (status["CapEff"], status["CapBnd"], status["NoNewPrivs"], status["Seccomp"]) == \
        (DOCKER_CAPS, DOCKER_CAPS, "1", "2")
    assert rb("exec", cid, "unshare", "-U", "true").returncode != 0


def test_default_capabilities_no_new_privs_and_seccomp(rb, busybox) -> None:
    done = rb("run", "--rm", busybox, "cat", "/proc/self/status")
    assert done.returncode == 0, done.stderr
    status = _caps(done.stdout)
    assert (status["CapEff"], status["CapPrm"], status["CapBnd"]) == (DOCKER_CAPS,) * 3
    assert status["CapInh"] == status["CapAmb"] == "0000000000000000"
    assert (status["NoNewPrivs"], status["Seccomp"]) == ("1", "2")
    as_user = _caps(rb("run", "--rm", "-u", "1000", busybox, "cat", "/proc/self/status").stdout)
    assert (as_user["CapEff"], as_user["CapBnd"]) == ("0000000000000000", DOCKER_CAPS)


def test_cap_add_cap_drop_and_privileged(rb, busybox) -> None:
    only_chown = _caps(rb("run", "--rm", "--cap-drop", "ALL", "--cap-add", "CAP_CHOWN", busybox,
                          "cat", "/proc/self/status").stdout)
    assert only_chown["CapEff"] == only_chown["CapBnd"] == "0000000000000001"
    no_chown = rb("run", "--rm", "--cap-drop", "chown", busybox, "sh", "-c", "touch /f; chown 1 /f")
    assert no_chown.returncode != 0 and "Operation not permitted" in no_chown.stderr
    privileged = rb("run", "--rm", "--privileged", busybox, "cat", "/proc/self/status")
    status = _caps(privileged.stdout)
    assert int(status["CapEff"], 16) > int(DOCKER_CAPS, 16)
    assert (status["NoNewPrivs"], status["Seccomp"]) == ("0", "0")
    bad = rb("run", "--rm", "--cap-add", "NOT_A_CAP", busybox, "true")
    assert bad.returncode == 125 and bad.stderr.count("\n") == 1 and "NOT_A_CAP" in bad.stderr


def test_seccomp_blocks_unshare_unless_unconfined(rb, busybox) -> None:
    blocked = rb("run", "--rm", busybox, "unshare", "-U", "true")
    assert blocked.returncode != 0 and "Operation not permitted" in blocked.stderr
    allowed = rb("run", "--rm", "--security-opt", "seccomp=unconfined", busybox, "unshare", "-U", "true")
    assert allowed.returncode == 0, allowed.stderr


def test_seccomp_profile_file(rb, busybox, tmp_path) -> None:
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    done = rb("run", "--rm", "--security-opt", f"seccomp={path}", busybox, "mkdir", "/newdir")
    assert done.returncode == 1 and "Permission denied" in done.stderr
    assert rb("run", "--rm", "--security-opt", f"seccomp={path}", busybox, "true").returncode == 0
    path.write_text("{not json")
    bad = rb("run", "--rm", "--security-opt", f"seccomp={path}", busybox, "true")
    assert bad.returncode == 125 and bad.stderr.count("\n") == 1 and "seccomp" in bad.stderr
    # without no_new_privs the filter is installed while pid 1 still has CAP_SYS_ADMIN (runc's order)
    path.write_text(json.dumps(profile))
    no_nnp = rb("run", "--rm", "--security-opt", f"seccomp={path}", "--security-opt", "no-new-privileges=false",
                busybox, "sh", "-c", "grep -e NoNewPrivs -e Seccomp: /proc/self/status; mkdir /newdir")
    assert no_nnp.returncode == 1 and "Permission denied" in no_nnp.stderr
    assert _caps(no_nnp.stdout) == {"NoNewPrivs": "0", "Seccomp": "2"}
    default_no_nnp = rb("run", "--rm", "--security-opt", "no-new-privileges:false", "-u", "1000", busybox,
                        "grep", "-e", "NoNewPrivs", "-e", "Seccomp:", "/proc/self/status")
    assert _caps(default_no_nnp.stdout) == {"NoNewPrivs": "0", "Seccomp": "2"}, default_no_nnp.stderr
    unknown = rb("run", "--rm", "--security-opt", "bogus=1", busybox, "true")
    assert unknown.returncode == 125 and unknown.stderr.count("\n") == 1


def test_masked_and_read_only_paths(rb, busybox) -> None:
    script = ("for f in /proc/keys /proc/timer_list /proc/sched_debug /proc/kcore; do "
              "[ -e $f ] && echo \"$f=$(wc -c < $f)\"; done; echo firmware=$(ls /sys/firmware | wc -l); "
              "echo x > /proc/sys/kernel/hostname || echo sys-ro; echo h > /proc/sysrq-trigger || echo sysrq-ro")
    done = rb("run", "--rm", busybox, "sh", "-c", script)
    lines = done.stdout.split()
    assert "/proc/keys=0" in lines and "/proc/timer_list=0" in lines, done.stdout
    assert all(line.endswith("=0") for line in lines if line.startswith("/proc/"))
    assert "firmware=0" in lines and "sys-ro" in lines and "sysrq-ro" in lines
    assert "Read-only file system" in done.stderr
    privileged = rb("run", "--rm", "--privileged", busybox, "sh", "-c", "ls /sys/firmware | wc -l")
    assert privileged.stdout.strip() != "0"


def test_init_is_pid1_and_forwards_the_stop_signal(rb, busybox, store_root) -> None:
    started = rb("run", "-d", "--init", busybox, "sleep", "100")
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip()
    pid1 = rb("exec", cid, "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline").stdout.split()
    assert pid1 == ["/run/rootless-build-init", "--", "sleep", "100"]
    began = time.monotonic()
    assert rb("stop", cid).returncode == 0
    assert time.monotonic() - began < 5
    assert record(store_root, cid)["state"]["exit_code"] == 143


def test_a_plain_pid1_ignores_sigterm_as_with_docker(rb, busybox, store_root) -> None:
    started = rb("run", "-d", busybox, "sleep", "100")
    cid = started.stdout.strip()
    assert rb("stop", "-t", "1", cid).returncode == 0
    assert record(store_root, cid)["state"]["exit_code"] == 137


@pytest.mark.parametrize("detach", [False, True], ids=["attached", "detached"])
def test_missing_command_exits_127_with_dockers_message(rb, busybox, detach) -> None:
    done = rb("run", *(["-d"] if detach else []), "--rm", busybox, "nosuchcmd")
    assert done.returncode == 127
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in done.stderr
    assert done.stderr.count("\n") == 1 and done.stdout == ""
    not_exec = rb("run", *(["-d"] if detach else []), "--rm", busybox, "/etc/passwd")
    assert not_exec.returncode == 126 and "permission denied" in not_exec.stderr


def test_tty_names_the_containers_own_pty(cli_argv, busybox) -> None:
    import pexpect
    from ctrhelp import pexpect_env

    child = pexpect.spawn(cli_argv[0], [*cli_argv[1:], "run", "-it", "--rm", busybox, "sh", "-c",
                                        "tty; ls -l $(tty); stty size"],
                          timeout=60, env=pexpect_env(), encoding="utf-8", dimensions=(40, 160))
    child.expect(pexpect.EOF)
    child.close()
    lines = child.before.replace("\r", "").splitlines()
    assert child.exitstatus == 0, child.before
    assert lines[0] == "/dev/pts/0"                 # the container's devpts, not the host's
    assert lines[1].startswith("crw--w----") and lines[1].split()[2] == "root"
    assert lines[2] == "40 160"                     # the client's window size reached it


def test_exec_tty_is_a_pty_of_the_containers_devpts(cli_argv, rb, busybox) -> None:
    """Regression: exec -t took its pty from the host's /dev/pts, so `tty` named a path
    that did not exist in the container (or another terminal's)."""
    import pexpect
    from ctrhelp import pexpect_env

    done = rb("run", "-d", busybox, "sleep", "300")
    assert done.returncode == 0, done.stderr
    cid = done.stdout.strip()
    probe = ('tty; test -c "$(tty)" && echo is-a-device; '
             '[ "$(stat -c %d "$(tty)")" = "$(stat -c %d /dev/pts/ptmx)" ] && echo same-devpts; '
             'ls -l "$(tty)"; stty size')
    for command in (["tty"], ["sh", "-c", 'test -c "$(tty)"'], ["sh", "-c", probe]):
        child = pexpect.spawn(cli_argv[0], [*cli_argv[1:], "exec", "-t", cid, *command], timeout=60,
                              env=pexpect_env(), encoding="utf-8", dimensions=(30, 120))
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, (command, child.before)
    lines = child.before.replace("\r", "").splitlines()
    assert lines[0].startswith("/dev/pts/") and lines[0][len("/dev/pts/"):].isdigit(), lines
    assert lines[1:3] == ["is-a-device", "same-devpts"], lines
    assert lines[3].startswith("crw--w----") and lines[3].split()[2] == "root", lines
    assert lines[4] == "30 120"                 # the client's window size reached it
