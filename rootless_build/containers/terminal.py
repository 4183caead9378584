"""The local terminal while attached: raw mode, its size, and pseudo-terminal set-up."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import tty
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """Keys go to the container as typed (ctrl-c included); restored on the way out."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def window_size(fd: int) -> tuple[int, int] | None:
    """(rows, cols) of a terminal, None when fd is not one."""
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return (rows, cols) if rows and cols else None


def set_window_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def make_controlling(slave_fd: int) -> None:
    """In a fresh session (after setsid): the pty becomes this process's controlling tty."""
    fcntl.ioctl(slave_fd, termios.TIOCSCTTY, 0)

