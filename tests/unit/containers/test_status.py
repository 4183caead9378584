"""Liveness of recorded processes and docker's STATUS words; stale records settle as Exited."""

from __future__ import annotations

import os
import signal
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from rootless_build.containers import names, procs
from rootless_build.containers.catalog import Catalog
from rootless_build.containers.record import EXITED, RUNNING, Container, RunConfig, now_iso
from rootless_build.containers.status import human_duration, refresh, status_text


@pytest.mark.parametrize("seconds, text", [
    (0.2, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
    (119, "About a minute"), (120, "2 minutes"), (3599, "59 minutes"), (3600, "About an hour"),
    (2 * 3600, "2 hours"), (47 * 3600, "47 hours"), (3 * 86400, "3 days"), (15 * 86400, "2 weeks"),
    (90 * 86400, "3 months"), (800 * 86400, "2 years"),
])
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def _container(**state) -> Container:
    c = Container(id=names.new_id(), name="box", image="busybox", image_id="sha256:" + "a" * 64,
                  manifest_digest="sha256:" + "b" * 64, created=now_iso(), config=RunConfig(argv=["sh"]))
    for key, value in state.items():
        setattr(c.state, key, value)
    return c


def test_status_words() -> None:
    now = datetime.now(UTC)
    started = (now - timedelta(minutes=3)).isoformat()
    assert status_text(_container(status=RUNNING, started_at=started), now) == "Up 3 minutes"
    finished = (now - timedelta(seconds=5)).isoformat()
    assert status_text(_container(status=EXITED, exit_code=0, finished_at=finished), now) == "Exited (0) 5 seconds ago"
    assert status_text(_container(), now) == "Created"


def test_process_identity_survives_only_with_its_start_time() -> None:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        started = procs.start_time(proc.pid)
        assert started and procs.alive(proc.pid, started, procs.boot_id())
        assert not procs.alive(proc.pid, started + 1)          # a reused pid is not ours
        assert not procs.alive(proc.pid, started, "another-boot")
        assert not procs.wait_gone(proc.pid, started, 0.05)
        assert procs.send(proc.pid, started, signal.SIGTERM)
        proc.wait(10)
        assert procs.wait_gone(proc.pid, started, 1.0)
        assert not procs.alive(proc.pid, started)
        assert not procs.send(proc.pid, started, signal.SIGTERM)
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("text, number", [("KILL", 9), ("SIGTERM", 15), ("15", 15), ("hup", 1),
                                          ("RTMIN+1", int(signal.SIGRTMIN) + 1)])
def test_parse_signal(text: str, number: int) -> None:
    assert procs.parse_signal(text) == number


@pytest.mark.parametrize("text", ["NOPE", "0", "999", ""])
def test_parse_signal_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        procs.parse_signal(text)


def test_dead_monitor_makes_a_stale_record_exited_and_kills_the_orphan(tmp_path) -> None:
    catalog = Catalog(tmp_path / "containers")
    monitor = subprocess.Popen(["true"])
    monitor_start = procs.start_time(monitor.pid)
    monitor.wait()
    orphan = subprocess.Popen(["sleep", "60"])      # the container's init, left alone
    try:
        c = catalog.create(_container(status=RUNNING, monitor_pid=monitor.pid, monitor_start=monitor_start,
                                      pid=orphan.pid, pid_start=procs.start_time(orphan.pid),
                                      boot_id=procs.boot_id(), started_at=now_iso()))
        settled = refresh(catalog, catalog.load(c.id))
        assert settled.state.status == EXITED
        assert settled.state.exit_code == 128 + signal.SIGKILL
        assert "Exited (137)" in status_text(settled)
        assert orphan.wait(5) == -signal.SIGKILL
        assert catalog.load(c.id).state.status == EXITED
    finally:
        orphan.kill()
        orphan.wait()


def test_live_monitor_keeps_running(tmp_path) -> None:
    catalog = Catalog(tmp_path / "containers")
    me = os.getpid()
    c = catalog.create(_container(status=RUNNING, monitor_pid=me, monitor_start=procs.start_time(me),
                                  boot_id=procs.boot_id(), started_at=now_iso()))
    assert refresh(catalog, c).state.status == RUNNING
