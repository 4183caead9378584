"""The step's root: what pid 1 of the step mounts, before and after pivot_root.

Every source on the host side (devices, generated /etc files, --mount sources) is taken as
a detached mount (open_tree) *before* pivot_root, and attached *after* it with move_mount,
so each target path resolves inside the new root: a symlink in the image can never send a
mount onto the host. /proc is created before the pivot too (fsmount), while the host's
/proc is still there to satisfy the kernel's "mount too revealing" rule; so is /sys.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field

from rootless_build.errors import SandboxError
from rootless_build.sandbox import libc
from rootless_build.sandbox.hardening import MASKED_PATHS, READONLY_PATHS

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = (("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"))


@dataclass(frozen=True)
class BindSource:
    target: str         # absolute path in the container
    source: str         # host path, before the pivot
    readonly: bool


@dataclass(frozen=True)
class TmpfsMount:
    target: str
    size: int | None            # bytes (None: the kernel's default, half of RAM)
    mode: int | None            # None: 1777
    flags: tuple[str, ...] = ("nosuid", "nodev")    # of nosuid, nodev, noexec, ro


_TMPFS_FLAGS = {"nosuid": libc.MS_NOSUID, "nodev": libc.MS_NODEV, "noexec": libc.MS_NOEXEC, "ro": libc.MS_RDONLY}


@dataclass
class RootfsPlan:
    merged: str
    etc_files: dict[str, str]                  # container path -> generated host file
    binds: list[BindSource] = field(default_factory=list)
    tmpfs: list[TmpfsMount] = field(default_factory=list)
    devpts_gid5: bool = True                   # gid 5 (tty) is mapped
    own_network: bool = False                  # a new network namespace: a sysfs of its own
    shm_size: int | None = None                # bytes of /dev/shm (None: docker's 64 MiB)
    mask_paths: bool = True                    # docker's masked and read-only /proc, /sys paths
    read_only: bool = False                    # the root itself read-only (run --read-only)


def _detached(source: str, readonly: bool, recursive: bool = False) -> int:
    fd = libc.open_tree_clone(source, recursive=recursive)
    if readonly:
        libc.mount_setattr_fd(fd, libc.MOUNT_ATTR_RDONLY, recursive=recursive)
    return fd


def _new_fs(fstype: str, readonly: bool = False) -> int:
    fs = libc.fsopen(fstype)
    try:
        libc.fsconfig_create(fs)
        attrs = libc.MOUNT_ATTR_NOSUID | libc.MOUNT_ATTR_NODEV | libc.MOUNT_ATTR_NOEXEC
        return libc.fsmount(fs, attrs | (libc.MOUNT_ATTR_RDONLY if readonly else 0))
    finally:
        os.close(fs)


def _sys(plan: RootfsPlan) -> int:
    """Read-only /sys: a fresh sysfs for a network namespace of our own (it shows that
    namespace's devices); else the host's, as rootless podman does."""
    if plan.own_network:
        return _new_fs("sysfs", readonly=True)
    return _detached("/sys", readonly=True, recursive=True)


def _attach(fd: int, target: str, what: str, optional: bool = False) -> None:
    try:
        libc.move_mount_fd(fd, target, follow=True)
    except OSError as e:
        if optional and e.errno in (errno.ENOENT, errno.ENOTDIR):
            return
        raise SandboxError(f"mounting {what} on {target}: {os.strerror(e.errno)}") from None
    finally:
        os.close(fd)


def _mount(source: str, target: str, fstype: str, flags: int, data: str) -> None:
    try:
        libc.mount(source, target, fstype, flags, data)
    except OSError as e:
        raise SandboxError(f"mounting {fstype} on {target}: {os.strerror(e.errno)}") from None


def _dev(plan: RootfsPlan, devices: dict[str, int]) -> None:
    nosuid = libc.MS_NOSUID
    _mount("tmpfs", "/dev", "tmpfs", nosuid | libc.MS_NOEXEC, "mode=755,size=65536k")
    for name, fd in devices.items():
        os.close(os.open(f"/dev/{name}", os.O_CREAT | os.O_WRONLY, 0o666))
        _attach(fd, f"/dev/{name}", f"/dev/{name}")
    os.mkdir("/dev/pts", 0o755)
    pts = "newinstance,ptmxmode=0666,mode=0620" + (",gid=5" if plan.devpts_gid5 else "")
    _mount("devpts", "/dev/pts", "devpts", nosuid | libc.MS_NOEXEC, pts)
    os.mkdir("/dev/shm", 0o1777)
    shm = f"{plan.shm_size}" if plan.shm_size else "65536k"
    _mount("shm", "/dev/shm", "tmpfs", nosuid | libc.MS_NODEV | libc.MS_NOEXEC, f"mode=1777,size={shm}")
    os.mkdir("/dev/mqueue", 0o755)
    try:
        _mount("mqueue", "/dev/mqueue", "mqueue", nosuid | libc.MS_NODEV | libc.MS_NOEXEC, "")
    except SandboxError:
        os.rmdir("/dev/mqueue")     # a kernel without POSIX message queues
    for name, target in DEV_LINKS:
        os.symlink(target, f"/dev/{name}")


def _mask_paths() -> None:
    """docker's masked paths (files: /dev/null over them; dirs: an empty read-only tmpfs)
    and read-only paths (a read-only bind of themselves). Absent ones are skipped."""
    for path in MASKED_PATHS:
        try:
            is_dir = os.path.isdir(path) and not os.path.islink(path)
            if not is_dir and not os.path.exists(path):
                continue
            fd = _new_fs("tmpfs", readonly=True) if is_dir else _detached("/dev/null", True)
        except OSError as e:
            raise SandboxError(f"masking {path}: {e.strerror}") from None
        _attach(fd, path, f"a mask on {path}", optional=True)
    for path in READONLY_PATHS:
        try:
            fd = _detached(path, readonly=True, recursive=True)
        except FileNotFoundError:
            continue
        except OSError as e:
            raise SandboxError(f"making {path} read-only: {e.strerror}") from None
        _attach(fd, path, f"a read-only {path}", optional=True)


def _dev_mount_point(target: str, is_dir: bool) -> None:
    os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
    if is_dir:
        os.mkdir(target, 0o755)
    else:
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))


def enter_rootfs(plan: RootfsPlan) -> None:
    """Run by the step's pid 1: mount everything, pivot into plan.merged, drop the old root."""
    try:
        proc = _new_fs("proc")
        sysfs = _sys(plan)
        devices = {name: _detached(f"/dev/{name}", False) for name in DEVICES
                   if os.path.exists(f"/dev/{name}")}
        # Writable, as with buildah: they are this step's own copies, thrown away after it.
        etc = {target: _detached(host, False) for target, host in plan.etc_files.items()}
        binds = [(b.target, _detached(b.source, b.readonly, recursive=True), os.path.isdir(b.source))
                 for b in plan.binds]
        os.chdir(plan.merged)
        libc.pivot_root(".", ".")
        libc.umount2(".", libc.MNT_DETACH)      # the old root, stacked on top by pivot_root
        os.chdir("/")
    except OSError as e:
        raise SandboxError(f"preparing the step's root: {e.strerror}") from None
    _attach(proc, "/proc", "proc")
    _attach(sysfs, "/sys", "sysfs", optional=True)
    _dev(plan, devices)
    if plan.mask_paths:
        _mask_paths()
    # Shallow first, so a volume on /etc gets /etc/hosts on top of it, as docker orders
    # them; at one depth the generated files first, so a mount of the user's wins.
    mounts: list[tuple[str, int, bool | None]] = [(target, fd, None) for target, fd in etc.items()]
    mounts += binds
    for target, fd, is_dir in sorted(mounts, key=lambda m: m[0].rstrip("/").count("/")):
        if is_dir is None:
            _attach(fd, target, target, optional=True)
            continue
        if target.startswith("/dev/") and not os.path.lexists(target):
            _dev_mount_point(target, is_dir)    # /dev is our fresh tmpfs: no init layer there
        _attach(fd, target, "a --mount")
    for t in plan.tmpfs:
        options = [f"mode={t.mode:o}" if t.mode is not None else "mode=1777"]
        if t.size:
            options.append(f"size={t.size}")
        flags = 0
        for name in t.flags:
            flags |= _TMPFS_FLAGS[name]
        _mount("tmpfs", t.target, "tmpfs", flags, ",".join(options))
    if plan.read_only:
        _read_only_root()


def _read_only_root() -> None:
    """Only the root mount: /dev, /proc, the tmpfs and binds on it keep their own flags
    (docker's --read-only). mount_setattr sets the one flag, whatever else is locked."""
    fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        libc.mount_setattr_fd(fd, libc.MOUNT_ATTR_RDONLY)
    except OSError as e:
        raise SandboxError(f"making the root read-only: {e.strerror}") from None
    finally:
        os.close(fd)
