"""Entering a new user + mount namespace: in this very process, or by re-executing.

enter_here(): a single-threaded process unshares itself while a forked helper, left in
the parent namespace, writes its id maps (newuidmap/newgidmap, or one id through
/proc/PID/uid_map); no second interpreter start-up. Otherwise, as podman does, the
unprivileged parent starts `python -m rootless_build.sandbox.enter`, which unshares first
thing; the parent writes the child's maps, forwards the signals it is sent, and returns
the child's status.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from rootless_build.errors import SandboxError
from rootless_build.sandbox import idmap, libc
from rootless_build.sandbox.enter import ENV_MARK, become_root

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SI_KERNEL = 0x80          # si_code of a signal the terminal sent to the whole process group
_IDENTITY = "0 0 4294967295"
# The child imports this very copy of the package, however we were found (venv, PYTHONPATH,
# a sys.path entry added at run time), without touching the environment it passes on.
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
_BOOTSTRAP = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
              "from rootless_build.sandbox.enter import main; main(sys.argv[1:])")


def in_userns() -> bool:
    """True inside the namespace we set up (or a process started in it)."""
    if os.environ.get(ENV_MARK) != "1":
        return False
    if os.getuid() == 0:
        return True         # real root gets the identity map: it cannot be told apart
    try:
        with open("/proc/self/uid_map") as f:
            # A mark inherited by a process outside (the initial namespace) does not count.
            return f.read().split() != _IDENTITY.split()
    except OSError:
        return False


def _stderr_warning(message: str) -> None:
    sys.stderr.write(f"rootless-build: warning: {message}\n")
    sys.stderr.flush()


def _map_args(entries: tuple[idmap.MapEntry, ...]) -> list[str]:
    return [str(v) for e in entries for v in (e.inside, e.outside, e.count)]


def write_maps(pid: int, mapping: idmap.IdMapping) -> None:
    """Give the child process `pid` its uid and gid maps."""
    if mapping.use_helpers:
        # both at once: each is a setuid exec (~10 ms), on the path of every container start
        running = [(tool, entries, subprocess.Popen([str(idmap.find_helper(tool)), str(pid), *_map_args(entries)],
                                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
                   for tool, entries in (("newuidmap", mapping.uid_map), ("newgidmap", mapping.gid_map))]
        failed = ""
        for tool, entries, helper in running:
            _, err = helper.communicate()
            if helper.returncode != 0 and not failed:
                detail = (err.strip().splitlines() or ["failed"])[-1]
                failed = f"{tool} {pid} {' '.join(_map_args(entries))}: {detail}"
        if failed:
            raise SandboxError(failed)
        return
    try:
        if os.getuid() != 0:
            # An unprivileged writer may map only itself, and only once setgroups is denied.
            with open(f"/proc/{pid}/setgroups", "w") as f:
                f.write("deny")
        for kind, entries in (("uid", mapping.uid_map), ("gid", mapping.gid_map)):
            with open(f"/proc/{pid}/{kind}_map", "w") as f:
                f.write("".join(f"{e.inside} {e.outside} {e.count}\n" for e in entries))
    except OSError as e:
        raise SandboxError(f"writing the id maps of process {pid}: {e.strerror}") from None


def _status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def enter_here(warn: Callable[[str], None] | None = _stderr_warning,
               mapping: idmap.IdMapping | None = None) -> bool:
    """Make this process root of a new user and mount namespace. False when it cannot
    do so in place (another thread runs: unshare refuses): re-execute instead."""
    if threading.active_count() > 1:
        return False
    mapping = mapping or idmap.plan_mapping()
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    helper = os.fork()
    if helper == 0:
        # Our ends only: holding the parent's, a failed unshare would leave us waiting forever.
        os.close(ready_w)
        os.close(done_r)
        _map_parent(ready_r, done_w, mapping)
    os.close(ready_r)
    os.close(done_w)
    try:
        try:
            libc.unshare(libc.CLONE_NEWUSER | libc.CLONE_NEWNS)
        except OSError as e:
            if e.errno == errno.EINVAL:
                return False        # threads we do not know of (a C library's)
            raise SandboxError(f"cannot create a user namespace: {e.strerror}; {_userns_hint()}") from None
        os.write(ready_w, b"R")
        answer = os.read(done_r, 4096)
    finally:
        os.close(ready_w)
        os.close(done_r)
        os.waitpid(helper, 0)
    if answer != b"G":
        raise SandboxError(answer[1:].decode(errors="replace") or "writing the id maps failed")
    if mapping.warning and warn is not None:
        warn(mapping.warning)       # here, not earlier: a caller that re-executes warns itself
    try:
        become_root()
        # Mounts made in here must never propagate back to the host's namespace.
        libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    except OSError as e:
        raise SandboxError(f"setting up the user namespace: {e.strerror}") from None
    os.environ[ENV_MARK] = "1"
    return True


def _map_parent(ready_r: int, done_w: int, mapping: idmap.IdMapping) -> None:
    """The forked helper of enter_here: once the parent has unshared, write its maps."""
    try:
        if os.read(ready_r, 1) == b"R":
            write_maps(os.getppid(), mapping)
            os.write(done_w, b"G")
    except BaseException as e:  # noqa: BLE001 - the parent reports it
        os.write(done_w, b"E" + str(e).encode(errors="replace")[:2000])
    os._exit(0)


def spawn_in_userns(argv: list[str], *, module: bool = False,
                    warn: Callable[[str], None] | None = _stderr_warning,
                    stdin=None, stdout=None, stderr=None, mapping: idmap.IdMapping | None = None) -> int:
    """Run argv (or, with module=True, `python -m argv[0] argv[1:]`) as root of a new user
    and mount namespace; return its exit status (128+N when killed by signal N).

    stdin/stdout/stderr are inherited (the tty too) unless given, as for subprocess.Popen.
    """
    mapping = mapping or idmap.plan_mapping()
    if mapping.warning and warn is not None:
        warn(mapping.warning)
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    open_fds = {ready_r, ready_w, go_r, go_w}

    def close(fd: int) -> None:
        if fd in open_fds:
            open_fds.discard(fd)
            os.close(fd)

    waited = {*FORWARDED, signal.SIGCHLD}
    # Blocked from here on and taken with sigwaitinfo, which tells who sent each signal.
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", _BOOTSTRAP, _PACKAGE_PARENT, str(ready_w), str(go_r),
             "module" if module else "exec", *argv],
            pass_fds=(ready_w, go_r), stdin=stdin, stdout=stdout, stderr=stderr,
            preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, old_mask))
        close(ready_w)
        close(go_r)
        try:
            _handshake(child.pid, ready_r, go_w, mapping)
        except BaseException:
            close(go_w)             # the child reads EOF and exits
            child.wait()
            raise
        close(go_w)
        return _status(_wait_forwarding(child, waited))
    finally:
        for fd in list(open_fds):
            close(fd)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def _handshake(pid: int, ready_r: int, go_w: int, mapping: idmap.IdMapping) -> None:
    answer = os.read(ready_r, 512)
    if answer != b"R":
        why = answer[1:].decode(errors="replace") if answer.startswith(b"E") else "it exited"
        raise SandboxError(f"cannot create a user namespace: {why}; {_userns_hint()}")
    write_maps(pid, mapping)
    os.write(go_w, b"G")


def _userns_hint() -> str:
    from rootless_build.sandbox.diagnose import userns_problems
    problems = userns_problems()
    return problems[0] if problems else "run `rootless-build info` for what this machine offers"


def _wait_forwarding(child: subprocess.Popen, waited: set[int]) -> int:
    while True:
        info = signal.sigwaitinfo(waited)
        if info.si_signo == signal.SIGCHLD:
            if child.poll() is not None:
                return child.returncode
            continue
        # The terminal signals the whole foreground group: the child has it already.
        if info.si_code != SI_KERNEL:
            try:
                os.kill(child.pid, info.si_signo)
            except ProcessLookupError:
                pass


def reexec_in_userns(argv: list[str]) -> int:
    """Run `rootless-build ARGV...` again inside the namespace; return its exit status."""
    return spawn_in_userns(["rootless_build", *argv], module=True)


def run_unshare(cmd: list[str]) -> int:
    """`rootless-build unshare [CMD...]`: CMD (default $SHELL) as root of the namespace."""
    cmd = cmd or [os.environ.get("SHELL") or "/bin/sh"]
    if in_userns():
        try:
            os.execvp(cmd[0], cmd)
        except OSError as e:
            raise SandboxError(f"{cmd[0]}: {e.strerror}") from None
    return spawn_in_userns(cmd)
