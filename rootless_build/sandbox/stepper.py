"""The processes of one step, forked from the builder (already root of the user namespace).

    builder ── stepper: own mount ns; mounts the overlay (a fuse-overlayfs daemon stays
                 │       there); then new mount, pid, uts, ipc (+net) namespaces
                 └─ pid 1: pivot_root, /proc, /dev, /etc files, user, capabilities,
                           no_new_privs, seccomp; then execs the command itself

Pid 1 is the step's own program (or the --init binary): nothing of the builder's Python
stays in the namespace, no host fd crosses the execve (all are close-on-exec or closed),
and its environment is exactly the step's. The stepper stays outside the pid namespace,
non-dumpable. Everything mounted lives in the stepper's namespaces and vanishes with
them; pid 1's death kills whatever the command left running. Both die with their parent
(PR_SET_PDEATHSIG). Messages go to the builder over the report pipe, one line each:
`E:<error>`, `U:<uid>:<gid>` (unmapped user), `P:<fuse pid>`, `I:<pid>:<start time>` (the
command runs), `N:<status>:<message>` (it could not be executed), `X:<exit status>`.
No imports may happen in here after the pivot: the old root is gone.
"""

from __future__ import annotations

import fcntl
import os
import resource  # here, not where it is used: that runs inside the step's rootfs
import shutil
import signal
import socket
import struct
import termios
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from rootless_build.errors import SandboxError
from rootless_build.sandbox import console, drivers, hardening, libc, overlay
from rootless_build.sandbox.copyup import copy_up
from rootless_build.sandbox.rootfs import RootfsPlan, enter_rootfs
from rootless_build.sandbox.slirp import Slirp, SlirpOptions
from rootless_build.sandbox.users import home_dir, resolve_user

SETUP_FAILED = 125
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


@dataclass(frozen=True)
class SecretCopy:
    source: str
    dest: str           # on the stepper's private tmpfs
    mode: int
    uid: int
    gid: int


@dataclass(frozen=True)
class CowBind:
    """A read-write bind whose writes are thrown away: an overlay (or a copy) of source."""

    source: str
    scratch: str        # holds upper/, work/ and merged (the dir bound into the step)


@dataclass
class StepperPlan:
    parent_pid: int
    driver: str
    lowerdirs: list[Path]
    upperdir: Path
    driver_workdir: Path
    rootfs: RootfsPlan
    argv: list[str]
    env: list[str]
    cwd: str
    user: str | tuple[int, int, list[int]]
    hostname: str
    network: str                            # host, none or slirp4netns
    interactive: bool
    report_w: int
    out_w: int | None
    secrets_dir: str = ""
    secrets: list[SecretCopy] = field(default_factory=list)
    cow_binds: list[CowBind] = field(default_factory=list)
    copy_ups: list[tuple[str, str]] = field(default_factory=list)   # (empty volume dir, container path)
    volatile: bool = False
    rlimits: list[tuple[int, int, int]] = field(default_factory=list)  # (RLIMIT_*, soft, hard)
    hardening: hardening.Hardening = hardening.Hardening()
    seccomp_bpf: bytes | None = None        # compiled by the builder, once per process
    console: int | None = None              # socket for the pty's master (see StepSpec)
    console_size: tuple[int, int] = (24, 80)
    net_ready: tuple[int, int] | None = None    # pipe: pid 1 waits on it before its execve
    slirp: SlirpOptions | None = None
    scratch: str = ""                       # the step's scratch dir (slirp4netns's socket, log)


def _limit(plan: StepperPlan) -> None:
    """--ulimit, applied to the command's process before its exec."""
    for which, soft, hard in plan.rlimits:
        resource.setrlimit(which, (resource.RLIM_INFINITY if soft < 0 else soft,
                                   resource.RLIM_INFINITY if hard < 0 else hard))


def _report(fd: int, kind: str, text: str) -> None:
    line = f"{kind}:{' '.join(text.split())}\n".encode(errors="replace")
    try:
        os.write(fd, line[:4000])
    except OSError:
        pass


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


# --- stepper -----------------------------------------------------------------------------

def stepper_main(plan: StepperPlan) -> NoReturn:
    mounted = None
    slirp = None
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)     # the builder decides, then tells us
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != plan.parent_pid:
            os._exit(SETUP_FAILED)
        libc.prctl(libc.PR_SET_DUMPABLE, 0)     # it holds the builder's memory: unreachable
        libc.unshare(libc.CLONE_NEWNS)
        libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
        mounted = drivers.mount_driver(plan.driver, plan.lowerdirs, plan.upperdir,
                                       plan.driver_workdir, Path(plan.rootfs.merged),
                                       volatile=plan.volatile)
        if mounted.pid is not None:
            _report(plan.report_w, "P", str(mounted.pid))
        _prepare_secrets(plan)
        for volume_dir, target in plan.copy_ups:
            copy_up(plan.rootfs.merged, target, volume_dir)
        for bind in plan.cow_binds:
            _prepare_cow_bind(bind)
        # pid 1's pivot_root moves our root too (one mount namespace): keep the host's /proc
        host_proc = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        flags = libc.CLONE_NEWNS | libc.CLONE_NEWPID | libc.CLONE_NEWUTS | libc.CLONE_NEWIPC
        if plan.network == "slirp4netns":
            slirp = Slirp(plan.slirp or SlirpOptions(), plan.scratch)   # forked while we share the host's network
        if plan.network != "host":
            flags |= libc.CLONE_NEWNET
        libc.unshare(flags)
        libc.sethostname(plan.hostname)
        if plan.network != "host":
            _loopback_up()
        if slirp is not None:   # pid 1 sets its root up meanwhile, and waits before its execve
            slirp.hand_over()
            net_ready = plan.net_ready = os.pipe2(os.O_CLOEXEC)
        exec_r, exec_w = os.pipe2(os.O_CLOEXEC)
        init_pid = os.fork()
        if init_pid == 0:
            os.close(exec_r)
            _init_main(plan, exec_w)
        os.close(exec_w)
        if slirp is not None:
            _start_network(slirp, net_ready, init_pid)
        signal.signal(signal.SIGTERM, lambda *_: _kill(init_pid))
        failed = _read_all(exec_r)      # EOF: the execve happened (the pipe is close-on-exec)
        if failed:
            _report(plan.report_w, "N", failed.decode(errors="replace"))
        else:
            _report(plan.report_w, "I", f"{init_pid}:{start_time(host_proc, init_pid)}")
        if plan.out_w is not None:
            os.close(plan.out_w)
        _, status = os.waitpid(init_pid, 0)
        _report(plan.report_w, "X", str(_exit_code(status)))
    except BaseException as e:  # noqa: BLE001 - everything becomes one line for the builder
        _report(plan.report_w, "E", _describe(e))
    finally:
        if slirp is not None:
            slirp.stop()
        if mounted is not None:
            mounted.stop()      # fuse-overlayfs unmounts in its namespace and exits
        os._exit(0)


def _start_network(slirp: Slirp, net_ready: tuple[int, int], init_pid: int) -> None:
    """slirp4netns up and the ports published, then pid 1 may exec the command."""
    ready_r, ready_w = net_ready
    os.close(ready_r)
    try:
        slirp.connect()
    except BaseException:
        os.close(ready_w)       # pid 1 reads EOF and ends
        _kill(init_pid)
        os.waitpid(init_pid, 0)
        raise
    os.write(ready_w, b"1")
    os.close(ready_w)


def _read_all(fd: int) -> bytes:
    data = b""
    try:
        while chunk := os.read(fd, 4096):
            data += chunk
    finally:
        os.close(fd)
    return data


def start_time(proc_fd: int, pid: int) -> int:
    """Field 22 of /proc/PID/stat: our unreaped child, so it is there (maybe a zombie)."""
    fd = os.open(f"{pid}/stat", os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc_fd)
    try:
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    return int(data[data.rfind(b")") + 2:].split()[19])


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)    # pid 1: the kernel then kills the whole namespace
    except ProcessLookupError:
        pass


def _describe(e: BaseException) -> str:
    if isinstance(e, SandboxError):
        return str(e)
    if isinstance(e, OSError):
        return f"{e.strerror or e}" + (f": {e.filename}" if e.filename else "")
    return f"{type(e).__name__}: {e}"


def _prepare_secrets(plan: StepperPlan) -> None:
    """Secrets are copied onto a tmpfs private to this step: never on disk, never committed."""
    if not plan.secrets:
        return
    libc.mount("tmpfs", plan.secrets_dir, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV, "mode=700")
    for s in plan.secrets:
        shutil.copyfile(s.source, s.dest)
        os.chown(s.dest, s.uid, s.gid)
        os.chmod(s.dest, s.mode)


def _prepare_cow_bind(bind: CowBind) -> None:
    scratch = Path(bind.scratch)
    merged = scratch / "merged"
    if os.path.isdir(bind.source):
        merged.mkdir()
        (scratch / "upper").mkdir()
        (scratch / "work").mkdir()
        try:
            overlay.mount_overlay([Path(bind.source)], scratch / "upper", scratch / "work", merged,
                                  volatile=True)   # its writes are thrown away
            return
        except SandboxError:
            shutil.copytree(bind.source, merged, symlinks=True, dirs_exist_ok=True)
            return
    shutil.copy2(bind.source, merged)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


# --- pid 1 -------------------------------------------------------------------------------

def _init_main(plan: StepperPlan, exec_w: int) -> NoReturn:
    """Set the step's root and process up, then exec its command as pid 1."""
    try:
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        if plan.net_ready is not None:
            os.close(plan.net_ready[1])
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_IGN)      # until the execve: the stepper decides
        enter_rootfs(plan.rootfs)
        if isinstance(plan.user, str):
            uid, gid, groups = resolve_user(Path("/"), plan.user)
        else:
            uid, gid, groups = plan.user
        env = _environment(plan.env, uid)
        if plan.console is not None:
            _console(plan.console, uid, plan.console_size)
    except BaseException as e:  # noqa: BLE001
        _report(plan.report_w, "E", _describe(e))
        os._exit(SETUP_FAILED)
    _exec_command(plan, uid, gid, groups, env, exec_w)


def _console(sock_fd: int, uid: int, size: tuple[int, int]) -> None:
    """A pty of the step's own devpts on fds 0-2 (the user's, as runc makes it); its master
    goes to whoever holds the other end of sock_fd."""
    master, slave = console.open_pty(uid, size)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    os.close(slave)
    with socket.socket(fileno=sock_fd) as sock:
        console.send_master(sock, master)
    os.close(master)


def _environment(env: list[str], uid: int) -> dict[str, str]:
    result = {}
    for item in env:
        key, sep, value = item.partition("=")
        if sep:
            result[key] = value
    result.setdefault("PATH", DEFAULT_PATH)
    result.setdefault("HOME", home_dir(Path("/"), uid))
    return result


def _setgroups_allowed() -> bool:
    try:
        with open("/proc/self/setgroups") as f:
            return f.read().strip() == "allow"
    except OSError:
        return True


def _exec_failure(argv0: str, e: OSError) -> tuple[int, str]:
    """docker's (runc's) words and status for a command that cannot be executed."""
    if isinstance(e, (FileNotFoundError, NotADirectoryError)):
        if "/" not in argv0:
            return 127, f'exec: "{argv0}": executable file not found in $PATH'
        return 127, f'exec: "{argv0}": stat {argv0}: no such file or directory'
    return 126, f'exec: "{argv0}": {(e.strerror or str(e)).lower()}'


def _exec_command(plan: StepperPlan, uid: int, gid: int, groups: list[int], env: dict[str, str],
                  exec_w: int) -> NoReturn:
    try:
        if plan.net_ready is not None and not os.read(plan.net_ready[0], 1):
            os._exit(SETUP_FAILED)      # the network did not come up: the stepper says why
        for sig in range(1, signal.NSIG):
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        if not plan.interactive:
            os.setsid()         # off the terminal: only the builder decides on Ctrl-C
        elif os.isatty(0):
            os.setsid()         # a container's pty becomes its controlling terminal (^C, job control)
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        os.umask(0o022)
        if not os.path.isdir(plan.cwd):
            os.makedirs(plan.cwd, 0o755)     # as root, like runc
        hardening.drop_bounding(plan.hardening, plan.seccomp_bpf)
        try:
            _limit(plan)
        except (OSError, ValueError) as e:
            _report(plan.report_w, "E", f"--ulimit/--cap-drop: {_describe(e)}")
            os._exit(SETUP_FAILED)
        try:
            if _setgroups_allowed():
                os.setgroups(groups)
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
        except OSError:
            _report(plan.report_w, "U", f"{uid}:{gid}")
            os._exit(SETUP_FAILED)
        os.chdir(plan.cwd)
        if not plan.interactive:
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(plan.out_w, 1)
            os.dup2(plan.out_w, 2)
        # Nothing of ours may cross the execve: close every fd but the two pipes that tell
        # the stepper how it went, and those are close-on-exec.
        os.set_inheritable(plan.report_w, False)
        keep = sorted((plan.report_w, exec_w))
        os.closerange(3, keep[0])
        os.closerange(keep[0] + 1, keep[1])
        os.closerange(keep[1] + 1, 1 << 20)
        hardening.finish(plan.hardening, uid, plan.seccomp_bpf)
    except BaseException as e:  # noqa: BLE001
        _report(plan.report_w, "E", _describe(e))
        os._exit(SETUP_FAILED)
    try:
        os.execvpe(plan.argv[0], plan.argv, env)
    except OSError as e:
        code, message = _exec_failure(plan.argv[0], e)
        os.write(exec_w, f"{code}:{message}".encode())
        os._exit(code)
