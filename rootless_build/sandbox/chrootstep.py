"""A step under `chroot` isolation: for a place that allows no namespaces (or no mounts).

The step's root is a full copy (vfs); the command is chrooted into it, in its own session
(whatever it leaves running is killed with the session's process group). With
`mounts` (a mount namespace may be made), /proc, /dev and /sys are bound in from this
place, with the generated /etc/hosts, /etc/hostname, /etc/resolv.conf and the RUN
--mounts, on mount points made in the copy and removed afterwards; without, the step gets
only its files. What this cannot give is said once per build by the caller (Plan.notes).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import cast

from rootless_build.errors import SandboxError
from rootless_build.sandbox import libc, vfs
from rootless_build.sandbox.copyup import copy_up
from rootless_build.sandbox.mountpoints import FIXED, create_in_place
from rootless_build.sandbox.spec import StepResult, StepSpec, mount_target
from rootless_build.sandbox.users import resolve_user

SETUP_FAILED = 125
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _binds(spec: StepSpec, etc: dict[str, str]) -> list[tuple[str, str, bool, bool]]:
    """(source, target in the root, recursive, readonly) for everything bound in."""
    binds = [("/proc", "/proc", True, False), ("/dev", "/dev", True, False), ("/sys", "/sys", True, True)]
    binds += [(host, target, False, False) for target, host in etc.items()]
    for m in spec.mounts:
        if m.type == "tmpfs":
            continue
        # (not a tmpfs: Mount made sure it has a source)
        binds.append((os.fspath(cast(Path, m.source)), mount_target(spec.cwd, m.target), True,
                      m.bound_readonly))
    return binds


def _mount_all(root: Path, spec: StepSpec, etc: dict[str, str]) -> None:
    libc.unshare(libc.CLONE_NEWNS)
    libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    for source, target, recursive, readonly in _binds(spec, etc):
        where = os.fspath(root) + target
        flags = libc.MS_BIND | (libc.MS_REC if recursive else 0)
        try:
            libc.mount(source, where, None, flags)
            if readonly:
                libc.mount(None, where, None, libc.MS_REMOUNT | libc.MS_BIND | libc.MS_RDONLY)
        except OSError as e:
            if target in ("/sys",):
                continue        # a place that hides /sys: steps rarely need it
            raise SandboxError(f"binding {source} on {target}: {e.strerror}") from None
    for m in spec.mounts:
        if m.type == "tmpfs":
            options = f"mode={m.mode:o}" if m.mode is not None else "mode=1777"
            flags = libc.MS_NOSUID | libc.MS_NODEV | (libc.MS_NOEXEC if "noexec" in m.flags else 0)
            libc.mount("tmpfs", os.fspath(root) + mount_target(spec.cwd, m.target), "tmpfs",
                       flags, options + (f",size={m.size}" if m.size else ""))


def _child(root: Path, spec: StepSpec, mounts: bool, etc: dict[str, str], out_w: int | None) -> None:
    try:
        os.setsid()
        if mounts:
            _mount_all(root, spec, etc)
        os.chroot(root)
        os.chdir("/")
        uid, gid, groups = resolve_user(Path("/"), spec.user) if isinstance(spec.user, str) else spec.user
        os.umask(0o022)
        if not os.path.isdir(spec.cwd):
            os.makedirs(spec.cwd, 0o755)
        env = {}
        for item in spec.env:
            key, sep, value = item.partition("=")
            if sep:
                env[key] = value
        env.setdefault("PATH", DEFAULT_PATH)
        env.setdefault("HOME", "/root" if uid == 0 else "/")
        try:
            os.setgroups(groups)
        except OSError:
            pass        # a single-id namespace denies setgroups
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        os.chdir(spec.cwd)
        if out_w is not None:
            null = os.open("/dev/null", os.O_RDONLY) if os.path.exists("/dev/null") else os.open("/", os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
    except BaseException as e:  # noqa: BLE001 - one line on the step's stderr
        text = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        os.write(2 if out_w is None else out_w, f"rootless-build: chroot step: {text}\n".encode())
        os._exit(SETUP_FAILED)
    try:
        os.execvpe(spec.argv[0], spec.argv, env)
    except OSError as e:
        os.write(2, f"rootless-build: exec {spec.argv[0]}: {e.strerror}\n".encode())
        os._exit(127 if isinstance(e, (FileNotFoundError, NotADirectoryError)) else 126)


def run_chroot_step(spec: StepSpec, mounts: bool) -> StepResult:
    """run_step's counterpart for chroot isolation (same contract)."""
    from rootless_build.sandbox.stepio import TAIL_BYTES, default_output, interruptible, last_lines, write_etc

    if spec.mounts and not mounts:
        raise SandboxError("RUN --mount needs mounts, which this place does not allow (chroot "
                           "isolation without a mount namespace); see `rootless-build info`")
    if spec.read_only:
        raise SandboxError("--read-only needs oci isolation (a root mount of its own); chroot "
                           "isolation, used here, has none: see `rootless-build info`")
    root = spec.upperdir
    vfs.populate(spec.lowerdirs, root)
    for m in spec.mounts:
        if m.copy_up:
            copy_up(os.fspath(root), mount_target(spec.cwd, m.target), os.fspath(cast(Path, m.source)))
    scratch = spec.workdir
    scratch.mkdir(parents=True, exist_ok=True)
    in_place = None
    etc: dict[str, str] = {}
    if mounts:
        etc = write_etc(spec, scratch / "etc")
        wanted = list(FIXED) + [(mount_target(spec.cwd, m.target),
                                 "dir" if m.type == "tmpfs" or os.path.isdir(cast(Path, m.source)) else "file")
                                for m in spec.mounts]
        in_place = create_in_place(root, wanted)
    output = spec.output or default_output
    out_r, out_w = (None, None) if spec.interactive else os.pipe()
    tail = b""
    pid = None
    try:
        with interruptible():
            pid = child = os.fork()
            if pid == 0:
                if out_r is not None:
                    os.close(out_r)
                _child(root, spec, mounts, etc, out_w)
            if out_w is not None:
                os.close(out_w)
                out_w = None
            if spec.on_start is not None:
                from rootless_build.sandbox.stepper import start_time

                proc_fd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    spec.on_start(pid, start_time(proc_fd, pid))
                finally:
                    os.close(proc_fd)
            if out_r is not None:
                while chunk := os.read(out_r, 65536):
                    output(chunk)
                    tail = (tail + chunk)[-TAIL_BYTES:]
            _, status = os.waitpid(pid, 0)
            pid = None
    finally:
        if pid is not None:
            _kill_group(pid)
            os.waitpid(pid, 0)
        for fd in (out_r, out_w):
            if fd is not None:
                os.close(fd)
        if in_place is not None:
            in_place.remove()
        import shutil

        shutil.rmtree(scratch / "etc", ignore_errors=True)
    _kill_group(child)      # whatever the command left running in its session
    code = os.waitstatus_to_exitcode(status)
    return StepResult(128 - code if code < 0 else code, last_lines(tail, spec.tail_lines))


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass

