"""Processes we did not fork: identity (pid + start time + boot id), liveness, waiting."""

from __future__ import annotations

import os
import select
import signal
import time

from rootless_build.store.boot import boot_id


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (which may hold spaces and ')')."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2:].decode().split()


def start_time(pid: int) -> int | None:
    """Start time in clock ticks after boot (field 22), or None when there is no such pid."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def alive(pid: int, started: int, boot: str = "") -> bool:
    """The very process recorded (not a reused pid), running and not a zombie."""
    if pid <= 0 or (boot and boot != boot_id()):
        return False
    fields = _stat_fields(pid)
    if not fields or fields[0] in ("Z", "X"):
        return False
    # 0 is an unknown start time: nothing proves the pid is still ours, so it is not
    return started != 0 and int(fields[19]) == started


def wait_gone(pid: int, started: int, timeout: float | None) -> bool:
    """Wait until the recorded process ends; True if it did within timeout (None: forever)."""
    if not alive(pid, started):
        return True
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return not alive(pid, started)
    try:
        if not alive(pid, started):   # the pid could have been reused before pidfd_open
            return True
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if poller.poll(None if left is None else int(left * 1000) + 1):
                return True
            # a zombie nobody reaps is gone for us too (pidfd readiness covers it, this is belt)
            if not alive(pid, started):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
    finally:
        os.close(fd)


def send(pid: int, started: int, sig: int) -> bool:
    """Signal the recorded process if it is still that process; False when it is gone."""
    if not alive(pid, started):
        return False
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        # pidfd first, then check identity: a signal can never reach a reused pid
        if not alive(pid, started):
            return False
        signal.pidfd_send_signal(fd, sig)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(fd)


def parse_signal(text: str | int) -> int:
    """'TERM', 'SIGTERM', '15' or 15 -> 15; ValueError for anything else."""
    if isinstance(text, int):
        return text
    t = text.strip().upper()
    if t.isdigit():
        number = int(t)
        if 0 < number < signal.NSIG:
            return number
        raise ValueError(text)
    if not t.startswith("SIG"):
        t = "SIG" + t
    try:
        return int(signal.Signals[t])
    except KeyError:
        if t.startswith("SIGRTMIN+") and t[9:].isdigit():
            return int(signal.SIGRTMIN) + int(t[9:])
        raise ValueError(text) from None
