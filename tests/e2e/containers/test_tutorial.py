"""The docker tutorial sequence end to end, as the unprivileged user, with the
interactive parts typed through a real pseudo-terminal (pexpect)."""

from __future__ import annotations

import json

import pexpect
import pytest
from ctrhelp import pexpect_env

pytestmark = pytest.mark.rootless

PROMPT = r"[#$] "


def spawn(cli_argv: list[str], *args: str) -> pexpect.spawn:
    child = pexpect.spawn(cli_argv[0], [*cli_argv[1:], *args], timeout=60, env=pexpect_env(),
                          encoding="utf-8", codec_errors="replace", dimensions=(40, 160))
    return child


def names(rb, *flags: str) -> list[str]:
    """The NAMES column of `ps`."""
    listed = rb("ps", *flags)
    assert listed.returncode == 0, listed.stderr
    return [line.split()[-1] for line in listed.stdout.splitlines()[1:]]


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_docker_tutorial_sequence(rb, cli_argv, busybox, store_root, tool) -> None:
    # 1. an interactive container makes a file, then exits
    box = spawn(cli_argv, "run", "-it", "--name", "box", busybox, "sh")
    box.expect(PROMPT)
    box.sendline("mkdir -p /home/x && echo hello-from-box > /home/x/file && echo made-$((40+2))")
    box.expect("made-42")
    box.expect(PROMPT)
    box.sendline("exit")
    assert finish(box) == 0

    listed = rb("ps", "-a")
    assert listed.returncode == 0, listed.stderr
    line = next(row for row in listed.stdout.splitlines() if row.rstrip().endswith("box"))
    assert "Exited (0)" in line and busybox in line and '"sh"' in line
    assert "box" not in names(rb)                   # not running: only with -a

    # 2. a second container from the same image is independent: no file there
    other = spawn(cli_argv, "run", "-it", busybox, "ls", "-a", "/home")
    other.expect(pexpect.EOF)
    other.close()
    assert other.exitstatus == 0
    assert "x" not in other.before.split()

    # 3. start the first again and attach: the file is still there
    started = rb("start", "box")
    assert started.returncode == 0 and started.stdout.strip() == "box", started.stderr
    assert "Up " in rb("ps").stdout
    attached = spawn(cli_argv, "attach", "box")
    attached.sendline("cat /home/x/file")
    attached.expect("hello-from-box")
    attached.sendcontrol("p")
    attached.sendcontrol("q")                        # detach: the container keeps running
    assert finish(attached) == 0
    assert "box" in names(rb)

    # 4. stop, commit with a new CMD, run the committed image
    stopped = rb("stop", "box")
    assert stopped.returncode == 0 and stopped.stdout.strip() == "box", stopped.stderr
    committed = rb("commit", "--change", 'CMD ["cat","/home/x/file"]', "-m", "tutorial", "box", "withfile:1")
    assert committed.returncode == 0, committed.stderr
    assert committed.stdout.strip().startswith("sha256:")
    ran = rb("run", "--rm", "withfile:1")
    assert (ran.returncode, ran.stdout) == (0, "hello-from-box\n"), ran.stderr
    left = names(rb, "-a")                           # --rm left nothing: box and the `ls` one
    assert len(left) == 2 and "box" in left
    config = json.loads(tool("skopeo", "inspect", "--config", f"oci:{store_root}:withfile:1").stdout)
    base = json.loads(tool("skopeo", "inspect", "--config", f"oci:{store_root}:{busybox}").stdout)
    assert config["config"]["Cmd"] == ["cat", "/home/x/file"]
    assert config["rootfs"]["diff_ids"][:-1] == base["rootfs"]["diff_ids"]
    assert config["history"][-1]["comment"] == "tutorial"
    assert config["history"][-1]["created_by"] == "sh"

    # 5. the base image is in use by box: rmi refuses and names it
    refused = rb("rmi", busybox)
    assert refused.returncode != 0
    assert "box" in refused.stderr

    # 6. rm box; then rmi works
    removed = rb("rm", "box")
    assert removed.returncode == 0 and removed.stdout.strip() == "box", removed.stderr
    assert "box" not in names(rb, "-a")
    assert rb("rmi", "withfile:1").returncode == 0
