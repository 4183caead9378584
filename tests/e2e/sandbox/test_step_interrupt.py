"""Ctrl-C or SIGTERM during a step: it ends promptly, and leaves no process, no mount and
no temp dir behind."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time

import pytest
from nsrun import DRIVERS, ns_command, ns_env, parse_result, write_script

pytestmark = pytest.mark.rootless

INNER = """
from rootless_build.sandbox.spec import StepInterrupted
base = Path(ARGS[1])
before = set(mountinfo())       # mounts of others (another user's dockerd) are not the step's
print(f"builder {os.getpid()}", flush=True)
started = time.monotonic()
try:
    step([ARGS[0]], base / "upper", base / "work",
         ["/bin/sh", "-c", f"echo ready; sleep {ARGS[3]} & sleep {ARGS[3]}; echo never"],
         driver=ARGS[2], stream=True)
    emit({"interrupted": None})
except StepInterrupted as e:
    emit({"interrupted": e.signum, "exit_code": e.exit_code,
          "mounts": [l for l in mountinfo() if l not in before and
                     (str(base) in l or "fuse" in l or "overlay" in l)],
          "work": os.listdir(base / "work"), "upper": listing(base / "upper")})
"""
_sleeps = itertools.count(4711)


def processes() -> list[str]:
    return subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()


CASES = [pytest.param(signal.SIGINT, d, id=f"SIGINT-{d}") for d in DRIVERS] + [
    pytest.param(signal.SIGTERM, "overlay", id="SIGTERM-overlay")]


@pytest.mark.parametrize("sig,driver", CASES)
def test_interrupt_ends_the_step_and_cleans_up(sig, driver, rootfs, ns_tmp, script_dir):
    seconds = str(next(_sleeps))
    script = write_script(script_dir, INNER)
    proc = subprocess.Popen(ns_command(sys.executable, script, rootfs, ns_tmp, driver, seconds),
                            env=ns_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout.readline().startswith("builder ")
        assert proc.stdout.readline() == "ready\n"
        time.sleep(0.3)      # let sleep start: a background one too, it must die with the step
        assert processes().count(f"sleep {seconds}") == 2
        sent = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    result = parse_result(out)
    assert result is not None, err
    assert result["interrupted"] == sig and result["exit_code"] == 128 + sig
    assert took < 10
    assert result["mounts"] == []
    assert result["work"] == []
    assert os.listdir(ns_tmp / "work") == []
    left = [p for p in processes() if f"sleep {seconds}" in p or
            ("fuse-overlayfs" in p and str(ns_tmp) in p) or str(script) in p]
    assert left == []


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_killed_builder_leaves_no_process(driver, rootfs, ns_tmp, script_dir):
    """kill -9 of the builder: nothing can clean up files, but every process of the step
    dies with it (PR_SET_PDEATHSIG down the chain; pid 1's death ends the pid namespace)."""
    seconds = str(next(_sleeps))
    script = write_script(script_dir, INNER)
    proc = subprocess.Popen(ns_command(sys.executable, script, rootfs, ns_tmp, driver, seconds),
                            env=ns_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL)
    try:
        builder = int(proc.stdout.readline().split()[1])
        assert proc.stdout.readline() == "ready\n"
        time.sleep(0.3)
        os.kill(builder, signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGKILL
    deadline = time.monotonic() + 5
    while True:
        left = [p for p in processes() if f"sleep {seconds}" in p or
                ("fuse-overlayfs" in p and str(ns_tmp) in p)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert left == []
