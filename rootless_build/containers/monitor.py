"""The monitor: one small process per running container, in conmon's role.

It holds the container's pseudo-terminal master (or the ends of its stdio pipes), writes
everything the container prints to the log, serves attach clients on a unix socket
(frames in protocol.py), records the exit status and finish time, and with --rm removes
the container. It runs in its own session (spawn.py double-forks it), so it outlives the
CLI that started it.

Flow control: while any attached client has more than HIGH_WATER bytes queued, the
container's output is not read (it blocks, as it would on a slow terminal); stdin from
clients stops being read while STDIN_HIGH_WATER bytes wait for the container.
"""

from __future__ import annotations

import errno
import os
import selectors
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rootless_build.containers import procs, protocol, terminal
from rootless_build.containers.catalog import Catalog
from rootless_build.containers.logfile import LogWriter
from rootless_build.containers.record import EXITED, RUNNING, Container, now_iso
from rootless_build.errors import ContainerError
from rootless_build.sandbox.console import receive_master

HIGH_WATER = 1 << 20
STDIN_HIGH_WATER = 1 << 20
EARLY_LIMIT = 16 << 20          # output kept for a client that is about to attach
FIRST_CLIENT_WAIT = 30.0        # how long an expected client may take to connect
DRAIN_WAIT = 5.0                # after exit: how long to flush output to clients
READ_SIZE = 65536


@dataclass
class Launched:
    """What starting the container gave: our child (whose exit status is the container's)
    and the container's init as the host sees it (pid 1 of its pid namespace)."""

    pid: int
    init_pid: int
    init_start: int             # its start time (/proc/PID/stat), read before it could be reaped


# (the container's fds 0, 1, 2; with a tty, the console socket its pid 1 sends the pty on)
Launch = Callable[[tuple[int, int, int], int | None], Launched]


@dataclass
class _Client:
    sock: socket.socket
    reader: protocol.FrameReader = field(default_factory=protocol.FrameReader)
    out: bytearray = field(default_factory=bytearray)
    greeted: bool = False
    watcher: bool = False       # `wait`: gets only the EXIT frame
    registered: bool = False


class Monitor:
    def __init__(self, catalog: Catalog, container: Container, expect_attach: bool):
        self.catalog = catalog
        self.container = container
        self.config = container.config
        self.expect_attach = expect_attach
        self.sel = selectors.DefaultSelector()
        self.clients: dict[int, _Client] = {}
        self.outputs: dict[int, bytes] = {}         # fd -> frame type
        self.paused = False
        self.stdin_fd: int | None = None
        self.stdin_buf = bytearray()
        self.stdin_close_pending = False
        self.pty_master: int | None = None
        self.early: bytearray | None = bytearray() if expect_attach else None
        self.exit_status: int | None = None
        self.child_pidfd: int | None = None
        self.child_pid = 0

    # -- set-up ---------------------------------------------------------------------------

    def _stdio(self) -> tuple[tuple[int, int, int], list[int]]:
        """The container's fds 0, 1, 2 and the ends to close here once it has them."""
        if self.config.tty:
            # The container's pid 1 opens its pty in the container's own devpts (so `tty`
            # names it there) and sends us the master over this socket, as runc's console
            # socket does; until then its stdio is /dev/null.
            self.console, child_console = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            return (null, null, null), [null, child_console.detach()]
        if self.config.open_stdin:
            stdin_r, stdin_w = os.pipe()
            os.set_blocking(stdin_w, False)
            self.stdin_fd = stdin_w
        else:
            stdin_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        for fd, kind in ((out_r, protocol.STDOUT), (err_r, protocol.STDERR)):
            os.set_blocking(fd, False)
            self.outputs[fd] = kind
        return (stdin_r, out_w, err_w), [stdin_r, out_w, err_w]

    def start(self, launch: Launch) -> None:
        """Listen, start the container, record it running. Raises if it cannot start."""
        cid = self.container.id
        self.sock_path = self.catalog.socket_path(cid)
        self.listener = protocol.listen(self.sock_path)
        self.sock_ino = os.stat(self.sock_path).st_ino
        self.listener.setblocking(False)
        self.sel.register(self.listener, selectors.EVENT_READ, "listen")
        self.log = LogWriter(self.catalog.log_path(cid))
        self._launch(launch, fresh=True)

    def relaunch(self, launch: Launch) -> None:
        """The restart policy's: the same container, a new process, the same clients and log."""
        if self.stdin_fd is not None:
            os.close(self.stdin_fd)
            self.stdin_fd = None
        self.stdin_buf.clear()
        self.stdin_close_pending = False
        self.exit_status = None
        self._launch(launch, fresh=False)

    def _launch(self, launch: Launch, fresh: bool) -> None:
        stdio, child_ends = self._stdio()
        try:
            launched = launch(stdio, child_ends[-1] if self.config.tty else None)
        finally:
            for fd in set(child_ends):
                os.close(fd)
        if self.config.tty:
            self._take_pty()
        self.child_pid = launched.pid
        self.child_pidfd = os.pidfd_open(launched.pid)
        self.sel.register(self.child_pidfd, selectors.EVENT_READ, "child")
        for fd in self.outputs:
            self.sel.register(fd, selectors.EVENT_READ, "output")
        me = os.getpid()

        def running(c: Container) -> None:
            s = c.state
            s.status, s.exit_code, s.finished_at, s.error = RUNNING, None, "", ""
            s.pid, s.pid_start = launched.init_pid, launched.init_start
            s.monitor_pid, s.monitor_start = me, procs.start_time(me) or 0
            s.boot_id, s.started_at = procs.boot_id(), now_iso()
            if fresh:       # `start`: a new run, the restart policy applies again
                s.restart_count, s.stopped = 0, False
            else:
                s.restart_count += 1

        self.container = self.catalog.update_state(self.container.id, running)
        if self.container.state.stopped:    # stop came while it was restarting: end it now
            procs.send(launched.init_pid, launched.init_start, signal.SIGKILL)

    def _take_pty(self) -> None:
        """The container's pty master, sent by its pid 1 before it exec'd the command."""
        master = receive_master(self.console)
        self.console.close()
        if master is None:
            raise ContainerError("the container did not send its terminal")
        os.set_blocking(master, False)
        self.pty_master = master
        self.outputs[master] = protocol.STDOUT
        if self.config.open_stdin:
            self.stdin_fd = os.dup(master)  # its own fd: selectors keys by fd

    # -- the loop -------------------------------------------------------------------------

    def serve(self) -> int:
        """Until the container exits and its output is drained; returns its exit status."""
        drain_deadline = None
        while self.exit_status is None or (self.outputs and time.monotonic() < drain_deadline):
            timeout = None if drain_deadline is None else max(0.0, drain_deadline - time.monotonic())
            for key, events in self.sel.select(timeout):
                self._dispatch(key, events)
            if self.exit_status is not None and drain_deadline is None:
                drain_deadline = time.monotonic() + DRAIN_WAIT
                self._pause_output(False)   # no writer is left: at most a pipe's worth remains
        return self.exit_status

    def _dispatch(self, key: selectors.SelectorKey, events: int) -> None:
        what = key.data
        if what == "listen":
            self._accept()
        elif what == "child":
            self._reap()
        elif what == "output":
            self._read_output(key.fd)
        elif what == "stdin":
            self._write_stdin()
        elif isinstance(what, _Client):
            if events & selectors.EVENT_WRITE:
                self._flush(what)
            if events & selectors.EVENT_READ and what.sock.fileno() in self.clients:
                self._read_client(what)

    def _reap(self) -> None:
        pid, status = os.waitpid(self.child_pid, os.WNOHANG)
        if pid == 0:
            return
        code = os.waitstatus_to_exitcode(status)
        self.exit_status = 128 - code if code < 0 else code
        self.sel.unregister(self.child_pidfd)
        os.close(self.child_pidfd)

    def _read_output(self, fd: int) -> None:
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno != errno.EIO:     # EIO: the pty's last slave closed
                raise
            data = b""
        if not data:
            self._close_output(fd)
            return
        kind = self.outputs[fd]
        self.log.write(b"stderr" if kind == protocol.STDERR else b"stdout", data)
        self._broadcast(protocol.frame(kind, data))

    def _close_output(self, fd: int) -> None:
        if not self.paused:
            self.sel.unregister(fd)
        del self.outputs[fd]
        if fd == self.pty_master:
            self.pty_master = None
        os.close(fd)

    # -- clients --------------------------------------------------------------------------

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        client = _Client(sock)
        self.clients[sock.fileno()] = client
        self._update(client)

    def _read_client(self, client: _Client) -> None:
        try:
            data = client.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        try:
            for kind, payload in client.reader.feed(data):
                self._handle(client, kind, payload)
        except ValueError:
            self._drop(client)

    def _handle(self, client: _Client, kind: bytes, payload: bytes) -> None:
        if kind == protocol.HELLO:
            client.greeted, client.watcher = True, payload == protocol.WATCH
            if self.early is not None and not client.watcher:
                client.out += self.early
                self.early = None
                self._update(client)
        elif kind == protocol.STDIN and self.stdin_fd is not None:
            self.stdin_buf += payload
            self._write_stdin()
            self._update(client)        # stops reading it while the container lags behind
        elif kind == protocol.STDIN_CLOSE and self.stdin_fd is not None and not self.config.tty:
            self.stdin_close_pending = True
            self._write_stdin()
        elif kind == protocol.RESIZE and self.pty_master is not None:
            rows, cols = protocol.parse_resize(payload)
            if rows and cols:
                try:
                    terminal.set_window_size(self.pty_master, rows, cols)
                except OSError:
                    pass

    def _broadcast(self, data: bytes) -> None:
        greeted = [c for c in self.clients.values() if c.greeted and not c.watcher]
        if self.early is not None:
            if len(self.early) + len(data) <= EARLY_LIMIT:
                self.early += data
        for client in greeted:
            client.out += data
            self._update(client)
        if self.exit_status is None and any(len(c.out) > HIGH_WATER for c in greeted):
            self._pause_output(True)

    def _update(self, client: _Client) -> None:
        """Register the events a client needs now: its output, and its input unless the
        container's stdin is behind (then the client waits: flow control)."""
        events = selectors.EVENT_READ if len(self.stdin_buf) <= STDIN_HIGH_WATER else 0
        if client.out:
            events |= selectors.EVENT_WRITE
        if events and client.registered:
            self.sel.modify(client.sock, events, client)
        elif events:
            self.sel.register(client.sock, events, client)
        elif client.registered:
            self.sel.unregister(client.sock)
        client.registered = bool(events)

    def _flush(self, client: _Client) -> None:
        try:
            sent = client.sock.send(client.out)
        except BlockingIOError:
            return
        except OSError:
            self._drop(client)
            return
        del client.out[:sent]
        self._update(client)
        if self.paused and all(len(c.out) <= HIGH_WATER // 2 for c in self.clients.values()):
            self._pause_output(False)

    def _drop(self, client: _Client) -> None:
        self.clients.pop(client.sock.fileno(), None)
        if client.registered:
            self.sel.unregister(client.sock)
            client.registered = False
        client.sock.close()
        if self.paused and all(len(c.out) <= HIGH_WATER // 2 for c in self.clients.values()):
            self._pause_output(False)

    def _pause_output(self, pause: bool) -> None:
        if pause == self.paused:
            return
        self.paused = pause
        for fd in self.outputs:
            if pause:
                self.sel.unregister(fd)
            else:
                self.sel.register(fd, selectors.EVENT_READ, "output")

    # -- stdin ----------------------------------------------------------------------------

    def _write_stdin(self) -> None:
        fd = self.stdin_fd
        if fd is None:
            return
        while self.stdin_buf:
            try:
                written = os.write(fd, self.stdin_buf)
            except BlockingIOError:
                break
            except OSError:         # the container closed its stdin
                self.stdin_buf.clear()
                break
            del self.stdin_buf[:written]
        registered = self._stdin_registered()
        if self.stdin_buf and not registered:
            self.sel.register(fd, selectors.EVENT_WRITE, "stdin")
        elif not self.stdin_buf and registered:
            self.sel.unregister(fd)
        if not self.stdin_buf:
            for client in self.clients.values():
                self._update(client)
            if self.stdin_close_pending:
                os.close(fd)
                self.stdin_fd = None

    def _stdin_registered(self) -> bool:
        try:
            return self.sel.get_key(self.stdin_fd).data == "stdin"
        except (KeyError, ValueError):
            return False

    # -- the end --------------------------------------------------------------------------

    def finish(self, status: int, after_exit: Callable[[], None] | None = None) -> None:
        """Record the exit, run after_exit (--rm), tell the clients, close the socket."""
        def exited(c: Container) -> None:
            c.state.status, c.state.exit_code = EXITED, status
            c.state.finished_at, c.state.pid = now_iso(), 0

        try:
            self.catalog.update_state(self.container.id, exited)
        except Exception:   # removed meanwhile (rm -f): nothing to record
            pass
        self.log.close()
        if after_exit is not None:
            after_exit()
        self._deliver_exit(status)
        self.listener.close()
        try:
            if os.stat(self.sock_path).st_ino == self.sock_ino:   # not a newer monitor's
                os.unlink(self.sock_path)
                os.rmdir(self.sock_path.parent)
        except OSError:
            pass

    def _deliver_exit(self, status: int) -> None:
        deadline = time.monotonic() + DRAIN_WAIT
        if self.early is not None:          # the client that started us has not come yet
            deadline = time.monotonic() + FIRST_CLIENT_WAIT
        exit_frame = protocol.frame(protocol.EXIT, str(status).encode())
        sent_to: set[int] = set()
        while time.monotonic() < deadline:
            for client in list(self.clients.values()):
                if client.greeted and id(client) not in sent_to:
                    client.out += exit_frame
                    sent_to.add(id(client))
                    self._update(client)
            pending = [c for c in self.clients.values() if c.out or not c.greeted]
            if not pending and self.early is None:
                break
            for key, events in self.sel.select(max(0.0, deadline - time.monotonic())):
                if key.data == "listen":
                    self._accept()
                elif isinstance(key.data, _Client):
                    self._dispatch(key, events)
        for client in list(self.clients.values()):
            client.sock.close()
        self.clients.clear()
