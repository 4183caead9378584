"""The attach client: the local terminal (or pipes) connected to a container's monitor.

With a tty the local terminal goes to raw mode and its size follows SIGWINCH; ctrl-p
ctrl-q detaches (the container keeps running). Returns the container's exit status, or
DETACHED, or None when the monitor went away without saying (the caller reads the record).
"""

from __future__ import annotations

import os
import select
import selectors
import signal
import socket
from pathlib import Path

from rootless_build.containers import protocol, terminal

DETACHED = -1
DETACH_KEYS = b"\x10\x11"       # ctrl-p ctrl-q
STDIN_QUEUE = 1 << 20           # stdin bytes queued for the monitor before we stop reading more


class _Detach(Exception):
    pass


class _KeyScanner:
    """Finds the detach sequence in typed input; holds back a prefix until it is decided."""

    def __init__(self, keys: bytes):
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to send on, whether the sequence was typed: stop after sending them)."""
        out = bytearray()
        for byte in data:
            candidate = self.held + bytes([byte])
            if self.keys.startswith(candidate):
                if candidate == self.keys:
                    self.held = b""
                    return bytes(out), True
                self.held = candidate
                continue
            out += candidate
            self.held = b""
        return bytes(out), False


def attach(sock_path: Path, *, stdin: bool, tty: bool, stdin_fd: int = 0, stdout_fd: int = 1,
           stderr_fd: int = 2, detach_keys: bytes = DETACH_KEYS) -> int | None:
    sock = protocol.connect(sock_path)
    try:
        return _Session(sock, stdin, tty, stdin_fd, stdout_fd, stderr_fd, detach_keys).run()
    finally:
        sock.close()


class _Session:
    """One attach: frames to the monitor are queued and sent as the socket takes them, and
    stdin is read only while that queue is short, so a container slow to read its stdin
    never stops us from reading its output (no deadlock on `cat big | run -i ... cat`)."""

    def __init__(self, sock: socket.socket, stdin: bool, tty: bool, stdin_fd: int, stdout_fd: int,
                 stderr_fd: int, detach_keys: bytes):
        self.sock = sock
        self.stdin = stdin
        self.tty = tty
        self.fds = (stdin_fd, stdout_fd, stderr_fd)
        self.scanner = _KeyScanner(detach_keys) if tty and stdin and detach_keys else None
        self.reader = protocol.FrameReader()
        self.sel = selectors.DefaultSelector()
        self.outgoing = bytearray()
        self.stdin_open = stdin
        self.stdin_registered = False
        self.detach_after_send = False
        self.sock_registered = False
        self.stdin_is_file = False

    def run(self) -> int | None:
        self.sock.setblocking(False)
        self._queue(protocol.frame(protocol.HELLO, b"i" if self.stdin else b""))
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        old_wakeup = old_winch = None
        use_terminal = self.tty and os.isatty(self.fds[0])
        try:
            self.sel.register(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, "sock")
            self.sock_registered = True
            if use_terminal:
                old_winch = signal.signal(signal.SIGWINCH, lambda *_: None)
                old_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
                self.sel.register(wake_r, selectors.EVENT_READ, "winch")
                self._queue_size()
            self._update_stdin()
            if use_terminal and self.stdin:
                with terminal.raw_mode(self.fds[0]):
                    return self._loop(wake_r)
            return self._loop(wake_r)
        except _Detach:
            return DETACHED
        finally:
            if old_wakeup is not None:
                signal.set_wakeup_fd(old_wakeup)
            if old_winch is not None:
                signal.signal(signal.SIGWINCH, old_winch)
            self.sel.close()
            os.close(wake_r)
            os.close(wake_w)

    def _loop(self, wake_r: int) -> int | None:
        while True:
            if self.stdin_is_file and self._stdin_wanted():
                self._forward_stdin()       # a file is always readable
            for key, events in self.sel.select(0 if self.stdin_is_file and self._stdin_wanted() else None):
                if key.data == "sock":
                    if events & selectors.EVENT_WRITE:
                        self._send()
                    if events & selectors.EVENT_READ:
                        data = self._recv()
                        if data is None:
                            return None
                        for kind, payload in self.reader.feed(data):
                            if kind == protocol.EXIT:
                                return int(payload or b"0")
                            if kind in (protocol.STDOUT, protocol.STDERR):
                                _write_all(self.fds[1] if kind == protocol.STDOUT else self.fds[2], payload)
                elif key.data == "stdin":
                    self._forward_stdin()
                elif key.data == "winch":
                    os.read(wake_r, 512)
                    self._queue_size()

    def _recv(self) -> bytes | None:
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return b""
        except ConnectionResetError:
            return None
        return data or None

    def _queue(self, frame: bytes) -> None:
        self.outgoing += frame
        if self.sock_registered:
            self.sel.modify(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, "sock")

    def _send(self) -> None:
        try:
            sent = self.sock.send(self.outgoing)
        except BlockingIOError:
            sent = 0
        except (BrokenPipeError, ConnectionResetError):
            self.outgoing.clear()       # the monitor is gone; the read side will tell
            sent = 0
        del self.outgoing[:sent]
        if not self.outgoing:
            if self.detach_after_send:
                raise _Detach()
            self.sel.modify(self.sock, selectors.EVENT_READ, "sock")
        self._update_stdin()

    def _stdin_wanted(self) -> bool:
        return self.stdin_open and len(self.outgoing) < STDIN_QUEUE and not self.detach_after_send

    def _update_stdin(self) -> None:
        want = self._stdin_wanted()
        if self.stdin_is_file:
            return                      # read between selects instead (see _loop)
        if want and not self.stdin_registered:
            try:
                self.sel.register(self.fds[0], selectors.EVENT_READ, "stdin")
            except PermissionError:     # a regular file (`run -i < file`): epoll refuses it
                self.stdin_is_file = True
                return
        elif not want and self.stdin_registered:
            self.sel.unregister(self.fds[0])
        self.stdin_registered = want

    def _forward_stdin(self) -> None:
        try:
            data = os.read(self.fds[0], 65536)
        except OSError:
            data = b""
        if not data:
            self.stdin_open = False
            self._queue(protocol.frame(protocol.STDIN_CLOSE))
        else:
            detach = False
            if self.scanner is not None:
                data, detach = self.scanner.feed(data)
            if data:
                self._queue(protocol.frame(protocol.STDIN, data))
            if detach and not self.outgoing:
                raise _Detach()
            if detach:
                self.detach_after_send = True   # what was typed before the keys goes first
        self._update_stdin()

    def _queue_size(self) -> None:
        size = terminal.window_size(self.fds[0])
        if size:
            self._queue(protocol.frame(protocol.RESIZE, protocol.resize_payload(*size)))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:     # someone made our stdout non-blocking: wait for room
            select.select([], [fd], [])
            continue
        view = view[written:]
