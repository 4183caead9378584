"""Ctrl-C (SIGINT to the build's process group) or SIGTERM during `RUN sleep`: the build
ends promptly with 130/143 and leaves no process, no mount and no temp dir behind."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runcheck import DRIVERS

pytestmark = pytest.mark.rootless

_seconds = itertools.count(3601)


def _user_processes() -> list[str]:
    listed = subprocess.run(["ps", "-u", str(os.getuid()), "-o", "pid=,args="], capture_output=True, text=True)
    return listed.stdout.splitlines()


def _start(rb, seeded_registry, context_dir: Path, driver: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[3]),
                                                                       os.environ.get("PYTHONPATH")])))
    return subprocess.Popen(
        [sys.executable, "-m", "rootless_build", "--root", str(rb.root), "--storage-driver", driver, "build",
         "--build-arg", f"REGISTRY={seeded_registry}", "-t", "sleepy:1", str(context_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        start_new_session=True, env=env)     # a process group of its own, as a terminal's job


CASES = [pytest.param(signal.SIGINT, d, id=f"SIGINT-{d}") for d in DRIVERS] + [
    pytest.param(signal.SIGTERM, "overlay", id="SIGTERM-overlay")]


@pytest.mark.parametrize("sig,driver", CASES)
def test_interrupt_during_run_cleans_up(sig, driver, rb, busybox, seeded_registry, context):
    seconds = str(next(_seconds))
    ctx = context("ARG REGISTRY\nFROM ${REGISTRY}/busybox:latest\nRUN echo first > /first.txt\n"
                  f"RUN echo ready; sleep {seconds} & sleep {seconds}; echo never\n")
    proc = _start(rb, seeded_registry, ctx, driver)
    try:
        for line in proc.stdout:
            if line == "ready\n":
                break
        else:
            pytest.fail(f"the step never started: {proc.stderr.read()}")
        time.sleep(0.3)      # both sleeps running, the background one must die with the step
        assert sum(p.split(None, 1)[1] == f"sleep {seconds}" for p in _user_processes()) == 2
        sent = time.monotonic()
        os.killpg(proc.pid, sig)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 128 + sig, err
    assert took < 10
    assert err.strip().splitlines()[-1] == f"Error: interrupted by {signal.Signals(sig).name}"
    left = [p for p in _user_processes() if f"sleep {seconds}" in p or str(rb.root) in p]
    assert left == []
    with open("/proc/self/mountinfo") as f:
        assert [line for line in f if str(rb.root) in line] == []
    assert os.listdir(rb.root / "tmp") == []
    assert rb("fsck").returncode == 0
    # the first RUN was committed and is reused: the store is consistent
    again = rb("build", "--build-arg", f"REGISTRY={seeded_registry}", "-t", "x:1", "-f",
               "-", ctx, input="ARG REGISTRY\nFROM ${REGISTRY}/busybox:latest\nRUN echo first > /first.txt\n")
    assert again.returncode == 0, again.stderr
    assert "--> Using cache" in again.stdout
