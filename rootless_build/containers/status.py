"""Whether a container is really running, and its STATUS text as docker words it.

A record says `running` only while its monitor lives. A monitor that died (kill -9, a
crash, a reboot) leaves a stale record: it is settled here as exited, and a container
process left without its monitor is killed, so nothing shows Up that nobody watches.
"""

from __future__ import annotations

import signal
from datetime import UTC, datetime

from rootless_build.containers import procs
from rootless_build.containers.catalog import Catalog
from rootless_build.containers.record import (
    CREATED,
    EXIT_UNKNOWN,
    EXITED,
    RESTARTING,
    RUNNING,
    Container,
    now_iso,
    parse_iso,
)


def monitor_alive(container: Container) -> bool:
    s = container.state
    return procs.alive(s.monitor_pid, s.monitor_start, s.boot_id)


def init_alive(container: Container) -> bool:
    s = container.state
    return procs.alive(s.pid, s.pid_start, s.boot_id)


def is_running(container: Container) -> bool:
    return container.state.status == RUNNING and monitor_alive(container)


def refresh(catalog: Catalog, container: Container) -> Container:
    """The container with a stale `running` state settled (written back) as exited."""
    if container.state.status not in (RUNNING, RESTARTING) or monitor_alive(container):
        return container
    with catalog.lock(container.id):
        try:
            current = catalog.load(container.id)
        except Exception:
            return container
        if current.state.status not in (RUNNING, RESTARTING) or monitor_alive(current):
            return current
        s = current.state
        killed = init_alive(current) and procs.send(s.pid, s.pid_start, signal.SIGKILL)
        s.status = EXITED
        if s.exit_code is None:
            s.exit_code = 128 + signal.SIGKILL if killed else EXIT_UNKNOWN
        s.finished_at = s.finished_at or now_iso()
        s.error = s.error or "the container's monitor process died"
        s.pid = s.monitor_pid = 0
        catalog.save_state(current)
        return current


def human_duration(seconds: float) -> str:
    """go-units HumanDuration, which docker's STATUS and CREATED columns use."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600 / 24 / 365)} years"


def _since(text: str, now: datetime) -> float:
    when = parse_iso(text)
    return (now - when).total_seconds() if when else 0.0


def status_text(container: Container, now: datetime | None = None) -> str:
    """'Up 3 minutes', 'Exited (0) 2 seconds ago', 'Created'."""
    now = now or datetime.now(UTC)
    s = container.state
    if s.status == RUNNING:
        return f"Up {human_duration(_since(s.started_at, now))}"
    if s.status == EXITED:
        return f"Exited ({s.exit_code if s.exit_code is not None else EXIT_UNKNOWN}) " \
               f"{human_duration(_since(s.finished_at, now))} ago"
    if s.status == CREATED:
        return "Created"
    if s.status == RESTARTING:
        return f"Restarting ({s.exit_code}) {human_duration(_since(s.finished_at, now))} ago"
    return s.status.capitalize()


def created_text(container: Container, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{human_duration(_since(container.created, now))} ago"
