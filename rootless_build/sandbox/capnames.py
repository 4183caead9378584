"""Linux capability names and numbers, for RUN's --cap-drop (bounding set)."""

from __future__ import annotations

from rootless_build.errors import UsageError

PR_CAPBSET_DROP = 24
# in number order: CAP_CHOWN is 0, CAP_CHECKPOINT_RESTORE 40
CAPS = ("CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
        "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
        "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
        "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
        "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
        "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE")


def check_names(names: list[str], flag: str) -> None:
    for name in names:
        if name != "ALL" and name not in CAPS:
            raise UsageError(f"{flag} {name}: unknown capability")


def capability_numbers(names: list[str]) -> list[int]:
    """The numbers for these names (ALL: every capability this kernel knows)."""
    if "ALL" in names:
        try:
            with open("/proc/sys/kernel/cap_last_cap") as f:
                last = int(f.read())
        except (OSError, ValueError):
            last = len(CAPS) - 1
        return list(range(last + 1))
    return [CAPS.index(name) for name in names]
