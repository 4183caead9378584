"""The monitor, attach and stop/kill/wait with a plain host process as the container's
command (the sandbox is proven in tests/e2e/containers): real ptys, pipes, sockets and
a real double-forked monitor."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from rootless_build.containers import lifecycle, names, procs, terminal
from rootless_build.containers.attach import attach
from rootless_build.containers.catalog import Catalog
from rootless_build.containers.logfile import read_records
from rootless_build.containers.monitor import Launched
from rootless_build.containers.record import EXITED, RUNNING, Container, RunConfig, now_iso
from rootless_build.containers.spawn import spawn_monitor
from rootless_build.containers.status import is_running


@pytest.fixture
def catalog(tmp_path, monkeypatch) -> Catalog:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    return Catalog(tmp_path / "containers")


def _create(catalog: Catalog, argv: list[str], **config) -> Container:
    c = Container(id=names.new_id(), name="", image="host", image_id="sha256:" + "a" * 64,
                  manifest_digest="sha256:" + "b" * 64, created=now_iso(), config=RunConfig(argv=argv, **config))
    return catalog.create(c)


def _host_launch(argv: list[str]):
    def launch(stdio, console):
        if console is not None:     # as the sandbox's pid 1 does: a pty, its master sent back
            master, slave = os.openpty()
            with socket.socket(fileno=os.dup(console)) as sock:
                socket.send_fds(sock, [b"m"], [master])
            os.close(master)
            stdio = (slave, slave, slave)
        pid = os.fork()
        if pid == 0:
            try:
                for target, fd in enumerate(stdio):
                    os.dup2(fd, target)
                if os.isatty(0):
                    os.setsid()
                    terminal.make_controlling(0)
                os.execvp(argv[0], argv)
            finally:
                os._exit(127)
        if console is not None:
            os.close(slave)
        return Launched(pid=pid, init_pid=pid, init_start=procs.start_time(pid))
    return launch


def _start(catalog: Catalog, c: Container, expect_attach: bool) -> None:
    spawn_monitor(catalog, c.id, _host_launch(c.config.argv), expect_attach=expect_attach)


def _attach(catalog: Catalog, c: Container, stdin_data: bytes | None, tty: bool):
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe()
    if stdin_data is not None:
        os.write(in_w, stdin_data)
    os.close(in_w)
    try:
        code = attach(catalog.socket_path(c.id), stdin=stdin_data is not None, tty=tty,
                      stdin_fd=in_r, stdout_fd=out_w, stderr_fd=err_w)
    finally:
        for fd in (out_w, err_w, in_r):
            os.close(fd)
    with os.fdopen(out_r, "rb") as o, os.fdopen(err_r, "rb") as e:
        return code, o.read(), e.read()


def _wait_exited(catalog: Catalog, c: Container, timeout: float = 10) -> Container:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = catalog.load(c.id)
        if current.state.status == EXITED:
            return current
        time.sleep(0.02)
    raise AssertionError("container did not exit")


def test_output_streams_exit_status_and_log(catalog: Catalog) -> None:
    c = _create(catalog, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    _start(catalog, c, expect_attach=True)
    code, out, err = _attach(catalog, c, None, tty=False)
    assert (code, out, err) == (3, b"out\n", b"err\n")
    done = _wait_exited(catalog, c)
    assert done.state.exit_code == 3 and done.state.finished_at
    with open(catalog.log_path(c.id), "rb") as f:      # two pipes: either may be read first
        assert sorted((s, t) for s, _, t in read_records(f)) == [(1, b"out\n"), (2, b"err\n")]


def test_stdin_through_pipes_until_eof(catalog: Catalog) -> None:
    c = _create(catalog, ["cat"], open_stdin=True, stdin_once=True)
    _start(catalog, c, expect_attach=True)
    code, out, _ = _attach(catalog, c, b"hello\n" * 1000, tty=False)
    assert code == 0 and out == b"hello\n" * 1000


def test_pseudo_terminal(catalog: Catalog) -> None:
    c = _create(catalog, ["sh"], tty=True, open_stdin=True)
    _start(catalog, c, expect_attach=True)
    code, out, _ = _attach(catalog, c, b"tty -s && echo is-a-tty; echo $((6*7)); exit 5\n", tty=True)
    assert code == 5
    assert b"is-a-tty" in out and b"42\r\n" in out      # the pty's line discipline: \r\n


def test_detached_then_kill_and_wait(catalog: Catalog) -> None:
    c = _create(catalog, ["sleep", "30"])
    _start(catalog, c, expect_attach=False)
    running = catalog.load(c.id)
    assert running.state.status == RUNNING and is_running(running)
    lifecycle.kill(catalog, running, signal.SIGTERM)
    assert lifecycle.wait(catalog, running) == 128 + signal.SIGTERM
    assert catalog.load(c.id).state.status == EXITED


def test_stop_escalates_to_sigkill_after_the_timeout(catalog: Catalog) -> None:
    c = _create(catalog, ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"], stop_timeout=10)
    _start(catalog, c, expect_attach=False)
    time.sleep(0.2)     # let the shell set its trap
    began = time.monotonic()
    stopped = lifecycle.stop(catalog, catalog.load(c.id), timeout=1)
    took = time.monotonic() - began
    assert stopped.state.status == EXITED and stopped.state.exit_code == 137
    assert 0.9 < took < 5


def test_a_second_client_sees_output_and_detached_client_leaves_it_running(catalog: Catalog) -> None:
    c = _create(catalog, ["sh", "-c", "read line; echo got $line; sleep 30"], open_stdin=True)
    _start(catalog, c, expect_attach=False)
    out_r, out_w = os.pipe()
    in_r, in_w = os.pipe()
    os.write(in_w, b"abc\n\x10\x11")        # the line, then ctrl-p ctrl-q
    os.close(in_w)
    code = attach(catalog.socket_path(c.id), stdin=True, tty=True, stdin_fd=in_r, stdout_fd=out_w, stderr_fd=out_w)
    os.close(out_w)
    os.close(in_r)
    assert code == -1       # detached
    container = catalog.load(c.id)
    assert is_running(container)
    lifecycle.kill(catalog, container, signal.SIGKILL)
    assert lifecycle.wait(catalog, container) == 137
    os.close(out_r)


def test_window_size_follows_the_local_terminal(catalog: Catalog) -> None:
    c = _create(catalog, ["sh", "-c", "sleep 0.5; stty size"], tty=True, open_stdin=True)
    _start(catalog, c, expect_attach=True)
    master, slave = os.openpty()
    terminal.set_window_size(slave, 33, 101)
    out_r, out_w = os.pipe()
    try:
        code = attach(catalog.socket_path(c.id), stdin=True, tty=True, stdin_fd=slave, stdout_fd=out_w,
                      stderr_fd=out_w)
    finally:
        os.close(out_w)
        os.close(master)
        os.close(slave)
    with os.fdopen(out_r, "rb") as f:
        assert b"33 101" in f.read()
    assert code == 0


def test_wait_gets_the_status_of_a_container_removed_on_exit(catalog: Catalog) -> None:
    from rootless_build.containers.removal import remove_container_files

    c = _create(catalog, ["sh", "-c", "sleep 3; exit 9"], auto_remove=True)
    spawn_monitor(catalog, c.id, _host_launch(c.config.argv), expect_attach=False,
                  after_exit=lambda: remove_container_files(catalog, c.id))
    assert lifecycle.wait(catalog, catalog.load(c.id)) == 9
    assert not catalog.path(c.id).exists()


def test_large_stdin_and_output_at_once_do_not_deadlock(catalog: Catalog, tmp_path) -> None:
    """Both directions beyond every buffer: flow control must not wedge either side."""
    c = _create(catalog, ["cat"], open_stdin=True, stdin_once=True)
    _start(catalog, c, expect_attach=True)
    source = tmp_path / "big"
    block = bytes(range(256)) * 4096            # 1 MiB
    with open(source, "wb") as f:
        for _ in range(8):
            f.write(block)
    sink = tmp_path / "out"
    in_fd = os.open(source, os.O_RDONLY)
    out_fd = os.open(sink, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        code = attach(catalog.socket_path(c.id), stdin=True, tty=False, stdin_fd=in_fd, stdout_fd=out_fd,
                      stderr_fd=out_fd)
    finally:
        os.close(in_fd)
        os.close(out_fd)
    assert code == 0
    assert sink.read_bytes() == source.read_bytes()
