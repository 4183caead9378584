"""The one way into a new user + mount namespace, for builds, containers, `unshare` and rm.

One handshake, two sides: the entering side unshares and says so (`_enter_side`); the
mapping side, left outside, then writes its id maps (`_map_side`: newuidmap/newgidmap for
the subordinate ranges, or one id through /proc/PID/uid_map) and says go; the entering
side becomes root of the namespace and makes every mount private. Arranged three ways:

  fork()        the primitive: os.fork(), the child coming back (0) inside, maps written;
  enter_here()  this very process goes in (single-threaded only: unshare refuses
                otherwise) while a forked helper writes its maps; no second start-up;
  spawn()       fork() and exec a command, or `python -m MODULE`, inside; forward the
                signals we are sent and return its status (any process, threads or not).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from rootless_build.errors import SandboxError
from rootless_build.sandbox import idmap, libc

ENV_MARK = "_ROOTLESS_BUILD_USERNS"
SETUP_FAILED = 125
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_CHILD_POLL = 0.05        # s: how late a threaded caller may learn that the child ended
SI_KERNEL = 0x80          # si_code of a signal the terminal sent to the whole process group
_IDENTITY = "0 0 4294967295"
# The module child imports this very copy of the package, however we were found (venv,
# PYTHONPATH, a sys.path entry added at run time), without touching the environment.
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
_BOOTSTRAP = ("import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); del sys.argv[0]; "
              "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)")


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


# --- the handshake ---------------------------------------------------------------------

class _SetupError(SandboxError):
    """In the namespace, becoming its root failed: only the entering side can say so."""


def _enter_side(ready_w: int, go_r: int, meanwhile: Callable[[], None] | None = None) -> None:
    """Unshare, tell the mapping side, wait for its go, become root of the namespace.
    The unshare's OSError is raised as is (the caller words it; EINVAL: threads run).
    meanwhile: the caller's own work (imports) done while the maps are written."""
    try:
        libc.unshare(libc.CLONE_NEWUSER | libc.CLONE_NEWNS)
    except OSError as e:
        _say(ready_w, b"E" + (e.strerror or "unshare failed").encode())
        raise
    _say(ready_w, b"R")
    if meanwhile is not None:
        try:
            meanwhile()
        except BaseException:   # noqa: BLE001 - only a head start: the caller does it again
            pass
    answer = os.read(go_r, 4096)
    if answer != b"G":
        raise SandboxError(answer[1:].decode(errors="replace") or "writing the id maps failed")
    try:
        become_root()
        # Mounts made in here must never propagate back to the host's namespace.
        libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    except OSError as e:
        raise _SetupError(f"setting up the user namespace: {e.strerror}") from None
    os.environ[ENV_MARK] = "1"


def _map_side(pid: int, ready_r: int, go_w: int, mapping: idmap.IdMapping) -> None:
    """Once process `pid` has unshared, write its id maps and say go (or why not)."""
    answer = os.read(ready_r, 512)
    if answer != b"R":
        raise _cannot_create(answer[1:].decode(errors="replace") if answer.startswith(b"E") else "it exited")
    try:
        write_maps(pid, mapping)
    except SandboxError as e:
        _say(go_w, b"E" + str(e).encode(errors="replace")[:2000])
        raise
    _say(go_w, b"G")


def _say(fd: int, message: bytes) -> None:
    try:
        os.write(fd, message)
    except BrokenPipeError:
        pass                # the other side is gone: its end tells its caller


def become_root() -> None:
    """Take uid/gid 0 of the namespace; drop the host's supplementary groups when allowed."""
    try:
        with open("/proc/self/setgroups") as f:
            setgroups_allowed = f.read().strip() == "allow"
    except OSError:
        setgroups_allowed = True
    if setgroups_allowed:
        os.setgroups([])
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def _map_args(entries: tuple[idmap.MapEntry, ...]) -> list[str]:
    return [str(v) for e in entries for v in (e.inside, e.outside, e.count)]


def write_maps(pid: int, mapping: idmap.IdMapping) -> None:
    """Give the child process `pid` its uid and gid maps."""
    if mapping.use_helpers:
        import subprocess

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


def _cannot_create(why: str) -> SandboxError:
    return SandboxError(f"cannot create a user namespace: {why}; {_userns_hint()}")


def _userns_hint() -> str:
    from rootless_build.sandbox.diagnose import userns_problems
    problems = userns_problems()
    return problems[0] if problems else "run `rootless-build info` for what this machine offers"


# --- the three arrangements ------------------------------------------------------------

def fork(mapping: idmap.IdMapping | None = None, meanwhile: Callable[[], None] | None = None) -> int:
    """os.fork(), the child returning 0 as root of a new user + mount namespace with its id
    maps written (default: the full subordinate ranges, else one id). The child gets
    SIGTERM when we die, and runs meanwhile() (if given) while its maps are written.
    Raises SandboxError here (one line) when the child cannot get in."""
    mapping = mapping or idmap.plan_mapping()
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        try:
            _enter_side(ready_w, go_r, meanwhile)
            # Set after become_root: a change of credentials clears it.
            libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGTERM)
        except _SetupError as e:
            os.write(2, f"rootless-build: {e}\n".encode())
            os._exit(SETUP_FAILED)
        except BaseException:  # noqa: BLE001 - the parent's side says why
            os._exit(SETUP_FAILED)
        os.close(ready_w)
        os.close(go_r)
        return 0
    os.close(ready_w)
    os.close(go_r)
    try:
        _map_side(pid, ready_r, go_w, mapping)
    except BaseException:
        os.close(go_w)              # the child reads EOF (or why) and leaves
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(ready_r)
    os.close(go_w)
    return pid


def enter_here(warn: Callable[[str], None] | None = _stderr_warning,
               mapping: idmap.IdMapping | None = None) -> bool:
    """Make this process root of a new user and mount namespace. False when it cannot
    do so in place (another thread runs: unshare refuses): spawn() instead."""
    if threading.active_count() > 1:
        return False
    mapping = mapping or idmap.plan_mapping()
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    helper = os.fork()
    if helper == 0:
        # Our ends only: holding the parent's, a failed unshare would leave us waiting forever.
        os.close(ready_w)
        os.close(go_r)
        try:
            _map_side(os.getppid(), ready_r, go_w, mapping)
        finally:
            os._exit(0)     # the parent's side says why, if it went wrong
    os.close(ready_r)
    os.close(go_w)
    try:
        _enter_side(ready_w, go_r)
    except OSError as e:
        if e.errno == errno.EINVAL:
            return False        # threads we do not know of (a C library's)
        raise _cannot_create(e.strerror or "unshare failed") from None
    finally:
        os.close(ready_w)
        os.close(go_r)
        os.waitpid(helper, 0)
    if mapping.warning and warn is not None:
        warn(mapping.warning)       # here, not earlier: a caller that re-executes warns itself
    return True


def spawn(argv: list[str], *, module: bool = False,
          warn: Callable[[str], None] | None = _stderr_warning,
          stdin: IO | None = None, mapping: idmap.IdMapping | None = None) -> int:
    """Run argv (or, with module=True, `python -m argv[0] argv[1:]`) as root of a new user
    and mount namespace; return its exit status (128+N when killed by signal N).
    stdio is inherited (the tty too); stdin replaced when given."""
    mapping = mapping or idmap.plan_mapping()
    if mapping.warning and warn is not None:
        warn(mapping.warning)
    waited: set[int] = {*FORWARDED, signal.SIGCHLD}
    # Blocked from here on and taken with sigwaitinfo, which tells who sent each signal.
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    try:
        pid = fork(mapping)
        if pid == 0:
            _exec(argv, module, stdin, old_mask)
        return _status(_wait_forwarding(pid, waited))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def _exec(argv: list[str], module: bool, stdin: IO | None, old_mask: set[int | signal.Signals]) -> None:
    """In the forked child: exec argv as subprocess would (signals and fds as a new
    process expects them). Never returns."""
    try:
        if stdin is not None:
            os.dup2(stdin.fileno(), 0)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        for restored in (signal.SIGPIPE, signal.SIGXFSZ):       # Python ignores them
            signal.signal(restored, signal.SIG_DFL)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        if module:
            argv = [sys.executable, "-c", _BOOTSTRAP, _PACKAGE_PARENT, *argv]
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(2, f"rootless-build: {argv[0]}: {e.strerror}\n".encode())
        os._exit(127 if isinstance(e, FileNotFoundError) else 126)
    finally:
        os._exit(126)


def _status(wait_status: int) -> int:
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


def _wait_forwarding(pid: int, waited: set[int]) -> int:
    while True:
        # A thread started before we blocked them takes (and drops) a SIGCHLD meant for
        # us: then only looking again finds the child gone, hence the timeout.
        info = signal.sigtimedwait(waited, _CHILD_POLL)
        if info is None or info.si_signo == signal.SIGCHLD:
            done, wait_status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return wait_status
            continue
        # The terminal signals the whole foreground group: the child has it already.
        if info.si_code != SI_KERNEL:
            try:
                os.kill(pid, info.si_signo)
            except ProcessLookupError:
                pass


def reexec_in_userns(argv: list[str], *, stdin: IO | None = None, mapping: idmap.IdMapping | None = None,
                     warn: Callable[[str], None] | None = _stderr_warning) -> int:
    """Run `rootless-build ARGV...` again inside the namespace; return its exit status."""
    return spawn(["rootless_build", *argv], module=True, stdin=stdin, mapping=mapping, warn=warn)


def run_unshare(cmd: list[str]) -> int:
    """`rootless-build unshare [CMD...]`: CMD (default $SHELL) as root of the namespace."""
    cmd = cmd or [os.environ.get("SHELL") or "/bin/sh"]
    if in_userns():
        try:
            os.execvp(cmd[0], cmd)
        except OSError as e:
            raise SandboxError(f"{cmd[0]}: {e.strerror}") from None
    return spawn(cmd)
