"""Docker's defaults for a container's (and a RUN step's) process: its capability set,
no_new_privs, the seccomp profile, and the masked and read-only /proc and /sys paths.

`Hardening` says what to apply; `resolve_caps` turns --cap-add/--cap-drop into a set;
`drop_bounding` and `finish` run in the process that execs, around its change of user
(runc's order: keep caps over setuid, then set the final sets)."""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

from rootless_build.errors import UsageError

CAPS = ("CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
        "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
        "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
        "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
        "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
        "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE")
# moby's oci/caps.DefaultCapabilities: CapEff/CapBnd 00000000a80425fb
DEFAULT_CAPS = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
                "NET_BIND_SERVICE", "NET_RAW", "SYS_CHROOT", "MKNOD", "AUDIT_WRITE", "SETFCAP")
MASKED_PATHS = ("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                "/sys/firmware", "/sys/devices/virtual/powercap")
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

PR_CAPBSET_DROP, PR_SET_KEEPCAPS, PR_SET_NO_NEW_PRIVS = 24, 8, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_CAP_VERSION_3 = 0x20080522


@dataclass(frozen=True)
class Hardening:
    caps: tuple[str, ...] = DEFAULT_CAPS     # names without CAP_; the bounding set
    no_new_privs: bool = True
    seccomp: str = "default"                 # "default", "unconfined" or a profile's JSON text
    mask_paths: bool = True                  # docker's masked and read-only paths

    @property
    def cap_names(self) -> frozenset[str]:
        return frozenset(f"CAP_{c}" for c in self.caps)


PRIVILEGED = Hardening(caps=CAPS, no_new_privs=False, seccomp="unconfined", mask_paths=False)


def _cap_name(text: str, flag: str) -> str:
    name = text.strip().upper().removeprefix("CAP_")
    if name != "ALL" and name not in CAPS:
        raise UsageError(f"{flag} {text}: unknown capability")
    return name


def resolve_caps(add: list[str], drop: list[str], base: tuple[str, ...] = DEFAULT_CAPS) -> tuple[str, ...]:
    """docker's TweakCapabilities: ALL in drop empties the base, ALL in add takes every cap."""
    adds = {_cap_name(c, "--cap-add") for c in add}
    drops = {_cap_name(c, "--cap-drop") for c in drop}
    caps = set() if "ALL" in drops else set(base) - drops
    caps |= set(CAPS) if "ALL" in adds else adds - {"ALL"}
    if "ALL" not in adds:
        caps -= drops - adds
    return tuple(c for c in CAPS if c in caps)


def _mask(caps: tuple[str, ...]) -> int:
    return sum(1 << CAPS.index(c) for c in caps)


_libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, arg2: int, arg3: int = 0) -> None:
    if _libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                   ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")


def _last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return len(CAPS) - 1


def drop_bounding(h: Hardening, bpf: bytes | None) -> None:
    """Before the change of user: the bounding set, and keep caps over setuid. Without
    no_new_privs a seccomp filter needs CAP_SYS_ADMIN: then it is installed here, while we
    have it (as runc does), and the calls up to the execve go through it."""
    if bpf is not None and not h.no_new_privs:
        from rootless_build.sandbox.seccomp import install
        install(bpf)
    keep = _mask(h.caps)
    for bit in range(_last_cap() + 1):
        if not keep & (1 << bit):
            _prctl(PR_CAPBSET_DROP, bit)
    _prctl(PR_SET_KEEPCAPS, 1)


def finish(h: Hardening, uid: int, bpf: bytes | None) -> None:
    """After the change of user, last before execve: effective and permitted sets (empty
    for a user other than root, as docker does), no ambient or inheritable caps,
    no_new_privs, then the seccomp filter (every later call goes through it)."""
    # Only what this process still holds can be kept: nested in a container that dropped some
    # of docker's defaults (podman drops NET_RAW, MKNOD, AUDIT_WRITE), the step runs without them.
    caps = (_mask(h.caps) & _permitted()) if uid == 0 else 0
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)(caps & 0xFFFFFFFF, caps & 0xFFFFFFFF, 0, caps >> 32, caps >> 32, 0)
    if _libc.capset(header, data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset: {os.strerror(err)}")
    _prctl(PR_SET_KEEPCAPS, 0)
    try:
        _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass                        # a kernel before 4.3: no ambient set to clear
    if h.no_new_privs:
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
    if bpf is not None and h.no_new_privs:
        from rootless_build.sandbox.seccomp import install
        install(bpf)


def _permitted() -> int:
    """This process's permitted capability set (capget: /proc may not be mounted here)."""
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    if _libc.capget(header, data) != 0:
        return (1 << 64) - 1
    return data[1] | (data[4] << 32)


def filter_for(h: Hardening, cache_dir: Path | None = None) -> bytes | None:
    """The compiled seccomp program for h (once per process, and kept in cache_dir when
    given), None when unconfined."""
    if h.seccomp == "unconfined":
        return None
    from rootless_build.sandbox import seccomp
    profile = seccomp.default_profile() if h.seccomp == "default" else h.seccomp
    return seccomp.compile_cached(profile, h.cap_names, cache_dir)
