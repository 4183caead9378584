"""Restart policies (--restart), applied by the monitor when the container's process ends.

docker's rules: `on-failure[:N]` restarts after a non-zero exit, at most N times (no limit
without N); `always` and `unless-stopped` restart whatever the status; nothing restarts a
container that stop, kill or rm ended (State.stopped; the two differ only when a daemon
restarts, which we do not have). Between attempts the container shows as restarting;
the delay doubles from 100 ms, as docker's, and starts again after a run of 10 s or more.
"""

from __future__ import annotations

import time

from rootless_build.containers.catalog import Catalog
from rootless_build.containers.record import RESTARTING, Container, now_iso
from rootless_build.errors import ContainerError

FIRST_DELAY = 0.1
MAX_DELAY = 10.0
STABLE_RUN = 10.0               # a run this long resets the delay
POLL = 0.05


def again(catalog: Catalog, container_id: str, status: int, backoff: Backoff) -> bool:
    """Whether to start the process again (after the delay); False when removed meanwhile."""
    try:
        return wanted(catalog.load(container_id), status) and backoff.wait(catalog, container_id, status)
    except ContainerError:
        return False


def mark_stopped(catalog: Catalog, container: Container) -> None:
    """stop and rm: no restart policy brings it back (docker's HasBeenManuallyStopped)."""
    if container.config.restart_policy == "no":
        return

    def stopped(c: Container) -> None:
        c.state.stopped = True
    try:
        catalog.update_state(container.id, stopped)
    except ContainerError:
        pass


def wanted(container: Container, status: int) -> bool:
    cfg, s = container.config, container.state
    if s.stopped:
        return False
    if cfg.restart_policy in ("always", "unless-stopped"):
        return True
    if cfg.restart_policy == "on-failure":
        return status != 0 and (cfg.restart_max == 0 or s.restart_count < cfg.restart_max)
    return False


class Backoff:
    def __init__(self) -> None:
        self.delay = FIRST_DELAY
        self.started = time.monotonic()

    def wait(self, catalog: Catalog, container_id: str, status: int) -> bool:
        """Record the exit as restarting and sleep the delay; False if stopped meanwhile."""
        if time.monotonic() - self.started >= STABLE_RUN:
            self.delay = FIRST_DELAY

        def restarting(c: Container) -> None:
            s = c.state
            s.status, s.exit_code, s.finished_at, s.pid = RESTARTING, status, now_iso(), 0

        if catalog.update_state(container_id, restarting).state.stopped:
            return False
        deadline = time.monotonic() + self.delay
        self.delay = min(self.delay * 2, MAX_DELAY)
        while time.monotonic() < deadline:
            time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
            if catalog.load(container_id).state.stopped:
                return False
        self.started = time.monotonic()
        return True
