"""Restart policies, each exercised after a crash: the monitor starts the process again,
RestartCount is recorded, and stop (or rm -f) ends it for good."""

from __future__ import annotations

import json
import time

import pytest
from ctrhelp import record

pytestmark = pytest.mark.rootless

CRASH = ["sh", "-c", "echo started; sleep 0.2; exit 1"]


def _run(rb, busybox, *args: str) -> str:
    done = rb("run", "-d", *args, busybox, *CRASH)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _state(rb, cid: str) -> dict:
    return record(rb.root, cid)["state"]


def _until(rb, cid: str, check, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = _state(rb, cid)
        if check(state) or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def _exited(state: dict) -> bool:
    return state["status"] == "exited"


def test_on_failure_restarts_n_times(rb, busybox) -> None:
    cid = _run(rb, busybox, "--restart", "on-failure:3")
    state = _until(rb, cid, _exited)
    assert state["status"] == "exited" and state["exit_code"] == 1
    assert state["restart_count"] == 3
    assert rb("logs", cid).stdout.count("started") == 4     # the first run and 3 restarts
    inspected = json.loads(rb("inspect", cid).stdout)[0]
    assert inspected["RestartCount"] == 3
    assert inspected["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}


def test_on_failure_does_not_restart_after_success(rb, busybox) -> None:
    done = rb("run", "-d", "--restart", "on-failure", busybox, "true")
    cid = done.stdout.strip()
    state = _until(rb, cid, _exited)
    assert state["exit_code"] == 0 and state["restart_count"] == 0


def test_no_policy_does_not_restart(rb, busybox) -> None:
    cid = _run(rb, busybox)
    state = _until(rb, cid, _exited)
    assert state["exit_code"] == 1 and state["restart_count"] == 0


@pytest.mark.parametrize("policy", ["always", "unless-stopped"])
def test_restarts_until_stop(rb, busybox, policy) -> None:
    cid = _run(rb, busybox, "--restart", policy)
    state = _until(rb, cid, lambda s: s["restart_count"] >= 3)
    assert state["restart_count"] >= 3
    assert not _exited(state)
    stopped = rb("stop", "-t", "1", cid)
    assert stopped.returncode == 0, stopped.stderr
    state = _state(rb, cid)
    assert state["status"] == "exited" and state["stopped"]
    count = state["restart_count"]
    time.sleep(1.0)                 # longer than the backoff so far: stop is final
    later = _state(rb, cid)
    assert later["status"] == "exited" and later["restart_count"] == count
    ps = rb("ps", "-a")
    assert "Exited (" in next(line for line in ps.stdout.splitlines() if line.startswith(cid[:12]))
    # a new start applies the policy again, from zero
    assert rb("start", cid).returncode == 0
    again = _until(rb, cid, lambda s: s["restart_count"] >= 1)
    assert again["restart_count"] >= 1 and not again["stopped"]
    assert rb("rm", "-f", cid).returncode == 0


@pytest.mark.parametrize("policy", ["always", "unless-stopped"])
def test_kill_is_not_restarted(rb, busybox, policy) -> None:
    """kill is the user's stop too (docker's HasBeenManuallyStopped): regression, an
    `always` container killed came straight back."""
    done = rb("run", "-d", "--restart", policy, busybox, "sleep", "100")
    assert done.returncode == 0, done.stderr
    cid = done.stdout.strip()
    killed = rb("kill", cid)
    assert killed.returncode == 0, killed.stderr
    state = _until(rb, cid, _exited)
    assert state["status"] == "exited" and state["exit_code"] == 137 and state["stopped"]
    time.sleep(1.0)                 # ten times the first restart delay
    later = _state(rb, cid)
    assert later["status"] == "exited" and later["restart_count"] == 0
    assert json.loads(rb("inspect", cid).stdout)[0]["RestartCount"] == 0
    # start runs it again, under its policy again
    assert rb("start", cid).returncode == 0
    again = _state(rb, cid)
    assert again["status"] == "running" and not again["stopped"]
    assert rb("kill", cid).returncode == 0
    assert _until(rb, cid, _exited)["restart_count"] == 0
    assert rb("rm", "-f", cid).returncode == 0


def test_bad_restart_flags(rb, busybox) -> None:
    for args, message in ((["--restart", "sometimes"], "use no, on-failure"),
                          (["--restart", "always:3"], "maximum retry count cannot be used"),
                          (["--restart", "on-failure:x"], "must be a number"),
                          (["--restart", "always", "--rm"], "mutually exclusive")):
        done = rb("run", "-d", *args, busybox, "true")
        assert done.returncode == 125 and message in done.stderr, done.stderr
