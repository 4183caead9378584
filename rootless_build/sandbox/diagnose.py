"""The failures rootless users hit most, each as one line: what is wrong and the exact fix."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from rootless_build.sandbox import idmap


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def kernel_version() -> tuple[int, int]:
    parts = platform.release().split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


def userns_problems() -> list[str]:
    problems = []
    if _read_int("/proc/sys/user/max_user_namespaces") == 0:
        problems.append("user namespaces are disabled (user.max_user_namespaces = 0); "
                        "fix: sysctl -w user.max_user_namespaces=15000")
    if _read_int("/proc/sys/kernel/unprivileged_userns_clone") == 0:
        problems.append("unprivileged user namespaces are disabled; "
                        "fix: sysctl -w kernel.unprivileged_userns_clone=1")
    if _read_int("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1:
        problems.append("AppArmor restricts unprivileged user namespaces; fix: "
                        "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0")
    return problems


def idmap_problems() -> list[str]:
    if os.getuid() == 0:
        return []
    user, uid, _ = idmap.current_user()
    problems = []
    missing = [str(path) for path in (idmap.SUBUID, idmap.SUBGID) if not idmap.read_ranges(path, user, uid)]
    if missing:
        problems.append(f"no subordinate ids for {user} in {' and '.join(missing)} (only your own id "
                        f"can be mapped, so chown to other users fails); fix: {idmap.subid_fix(user)}")
    helpers = {name: idmap.find_helper(name) for name in ("newuidmap", "newgidmap")}
    missing = [name for name, path in helpers.items() if path is None]
    if missing:
        problems.append(f"{' and '.join(missing)} not found; fix: apt-get install uidmap "
                        f"(dnf install shadow-utils on Fedora)")
    unusable = [str(p) for p in helpers.values() if p is not None and not idmap.helper_usable(p)]
    if unusable:
        problems.append(f"{' and '.join(unusable)} not setuid root; fix: chmod u+s {' '.join(unusable)}")
    return problems


def kernel_problems() -> list[str]:
    if kernel_version() < (5, 11):
        return [f"kernel {platform.release()} has no rootless overlayfs (needs 5.11); "
                "fuse-overlayfs or vfs will be used: fix: apt-get install fuse-overlayfs"]
    return []


def diagnose() -> list[str]:
    """Every problem found on this machine, one line each with its fix; [] when all is well."""
    return userns_problems() + idmap_problems() + kernel_problems()
