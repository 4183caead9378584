"""A pseudo-terminal of the container's own devpts, as runc's console socket makes it.

Opened from inside the container's root (pid 1 of `run -t`, the joined child of `exec -t`),
so `tty` names a /dev/pts/N that exists there; the master goes to the monitor or the CLI
over a unix socket (SCM_RIGHTS). Import this before entering the root: nothing can be
imported afterwards.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import termios

TIOCSPTLCK, TIOCGPTPEER = 0x40045431, 0x5441


def open_pty(uid: int, size: tuple[int, int] | None) -> tuple[int, int]:
    """(master, slave), both close-on-exec, from the devpts at /dev/pts of the current root;
    the slave belongs to uid. /dev/ptmx when /dev/pts/ptmx is refused: chroot isolation
    binds the host's /dev, whose devpts has ptmxmode=000."""
    try:
        master = os.open("/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except PermissionError:
        master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        # the peer of this very master: no path lookup that could name another devpts
        slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        if size:
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
        os.fchown(slave, uid, -1)
    except BaseException:
        os.close(master)
        raise
    return master, slave


def send_master(sock: socket.socket, master: int) -> None:
    socket.send_fds(sock, [b"m"], [master])


def receive_master(sock: socket.socket) -> int | None:
    """The master sent by the other end; None when it closed without sending one."""
    _, fds, _, _ = socket.recv_fds(sock, 16, 1)
    if not fds:
        return None
    os.set_inheritable(fds[0], False)
    return fds[0]
