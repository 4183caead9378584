"""`exec`: a new process in a running container, started by the CLI itself.

The CLI forks; the child joins the container's namespaces (nsenter.py) and forks again so
the pid namespace applies; the grandchild takes the user, working directory and
environment and execs the command. With -t the child, inside the container's root, opens a
pseudo-terminal of the container's devpts (so `tty` names a /dev/pts/N that exists there)
and sends its master back over a socket, as runc's console socket does; the CLI relays it
to the local terminal (raw mode, SIGWINCH). Exit status: the command's, 126
when it cannot be executed, 127 when it is not found, 125 when joining failed.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path

from rootless_build.containers import nsenter, terminal
from rootless_build.containers.record import EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, EXIT_OWN_ERROR, Container
from rootless_build.containers.runconfig import process_env
from rootless_build.sandbox import console, hardening, libc
from rootless_build.sandbox.users import home_dir, resolve_user


@dataclass
class ExecOptions:
    argv: list[str]
    tty: bool = False
    interactive: bool = False
    env: list[str] = field(default_factory=list)
    user: str | None = None
    workdir: str | None = None


def run_exec(container: Container, opts: ExecOptions, cache_dir: Path | None = None) -> tuple[int, str]:
    """(exit status, message for stderr when the command could not start); cache_dir keeps
    compiled seccomp programs."""
    env = process_env(container.config, opts.env, tty=opts.tty)
    user = opts.user if opts.user is not None else container.config.user
    workdir = opts.workdir or container.config.working_dir or "/"
    theirs = ours = None
    if opts.tty:        # the child sends the pty's master on it
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    from rootless_build.containers.security import hardening_of
    from rootless_build.sandbox.hardening import filter_for

    secure = hardening_of(container.config)     # docker exec: the container's own defaults
    bpf = filter_for(secure, cache_dir)     # here: nothing can be imported once inside
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(err_r)
        if ours is not None:
            ours.close()
        _child(container.state.pid, opts, env, user, workdir, theirs, err_w, (secure, bpf))
    os.close(err_w)
    master = None
    if ours is not None and theirs is not None:
        theirs.close()
        with ours:
            master = console.receive_master(ours)  # None: the child failed first, err_r says why
    old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)   # the command gets it and decides
    try:
        if master is not None:
            _relay(master, interactive=opts.interactive)
        _, status = os.waitpid(pid, 0)
    finally:
        signal.signal(signal.SIGINT, old_int)
        if master is not None:
            os.close(master)
    with os.fdopen(err_r, "rb") as f:
        message = f.read().decode(errors="replace").strip()
    code = os.waitstatus_to_exitcode(status)
    return (128 - code if code < 0 else code), message


def _child(init_pid: int, opts: ExecOptions, env: list[str], user: str, workdir: str,
           console_sock: socket.socket | None, err_w: int, secure: tuple) -> None:
    """In the forked child: join, fork into the pid namespace, wait, pass the status up."""
    try:
        libc.prctl(libc.PR_SET_DUMPABLE, 0)   # holds the CLI's memory; the command execs anew
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        nsenter.enter(init_pid)     # no imports from here on: the host's files are gone
        uid, gid, groups = resolve_user(Path("/"), user)
        env_keys = {e.split("=", 1)[0] for e in env}
        if "HOME" not in env_keys:
            env.append(f"HOME={home_dir(Path('/'), uid)}")
        slave = None
        if console_sock is not None:
            master, slave = console.open_pty(uid, terminal.window_size(0))
            console.send_master(console_sock, master)
            os.close(master)
            console_sock.close()
        child = os.fork()
        if child == 0:
            _grandchild(opts, env, uid, gid, groups, workdir, slave, err_w, secure)
        if slave is not None:
            os.close(slave)     # the pty closes when the command (and what it left) ends
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(128 - code if code < 0 else code)
    except BaseException as e:  # noqa: BLE001 - the parent prints it
        _report(err_w, f"exec in container failed: {e}", EXIT_OWN_ERROR)


def _grandchild(opts: ExecOptions, env: list[str], uid: int, gid: int, groups: list[int],
                workdir: str, slave: int | None, err_w: int, secure: tuple) -> None:
    try:
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        if slave is not None:
            os.setsid()
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            terminal.make_controlling(0)
            os.close(slave)
        elif not opts.interactive:
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.close(null)
        hardening.drop_bounding(secure[0], secure[1])
        try:
            os.setgroups(groups)
        except PermissionError:     # single-id mapping: setgroups is denied, keep none
            pass
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        try:
            os.chdir(workdir)
        except OSError as e:
            _report(err_w, f"chdir to {workdir}: {e.strerror}", EXIT_NOT_EXECUTABLE)
        environ = dict(item.split("=", 1) for item in env)
        os.closerange(3, err_w)             # nothing of the CLI's leaks in (err_w closes on exec)
        os.closerange(err_w + 1, 1 << 20)
        hardening.finish(secure[0], uid, secure[1])
        try:
            os.execvpe(opts.argv[0], opts.argv, environ)
        except FileNotFoundError:
            _report(err_w, f'exec: "{opts.argv[0]}": executable file not found in $PATH', EXIT_NOT_FOUND)
        except OSError as e:
            _report(err_w, f'exec: "{opts.argv[0]}": {e.strerror}', EXIT_NOT_EXECUTABLE)
    except BaseException as e:  # noqa: BLE001
        _report(err_w, f"exec in container failed: {e}", EXIT_OWN_ERROR)


def _report(err_w: int, message: str, code: int) -> None:
    try:
        os.write(err_w, message.encode())
    finally:
        os._exit(code)


def _relay(master: int, *, interactive: bool) -> None:
    """Local terminal <-> the exec's pty until the pty closes (the command and its children ended)."""
    sel = selectors.DefaultSelector()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    old_winch = signal.signal(signal.SIGWINCH, lambda *_: None)
    old_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    sel.register(master, selectors.EVENT_READ, "pty")
    sel.register(wake_r, selectors.EVENT_READ, "winch")
    if interactive:
        sel.register(0, selectors.EVENT_READ, "stdin")
    try:
        with terminal.raw_mode(0) if interactive else contextlib.nullcontext():
            while True:
                for key, _ in sel.select():
                    if key.data == "pty":
                        try:
                            data = os.read(master, 65536)
                        except OSError:
                            data = b""
                        if not data:
                            return
                        _write_all(1, data)
                    elif key.data == "stdin":
                        data = os.read(0, 65536)
                        if not data:
                            sel.unregister(0)
                            continue
                        _write_all(master, data)
                    else:
                        os.read(wake_r, 512)
                        size = terminal.window_size(0)
                        if size:
                            terminal.set_window_size(master, *size)
    finally:
        signal.set_wakeup_fd(old_wakeup)
        signal.signal(signal.SIGWINCH, old_winch)
        sel.close()
        os.close(wake_r)
        os.close(wake_w)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
