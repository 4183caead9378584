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


# --- inside containers: what blocks each option, and the flags that lift it ---------------

CAP_SYS_ADMIN = 21
ROOT_FLAG = ("run as root in the container (chroot isolation): docker/podman run --user 0; "
             "Kubernetes: securityContext.runAsUser: 0")


def _status() -> dict[str, str]:
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {}
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def in_container() -> bool:
    return (os.path.exists("/run/.containerenv") or os.path.exists("/.dockerenv")
            or "KUBERNETES_SERVICE_HOST" in os.environ)


def _fs_type(path: Path) -> str:
    """The filesystem type of the mount holding path (the longest matching mount point)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
        target = os.path.realpath(path)
    except OSError:
        return ""
    best, kind = "", ""
    for line in lines:
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        point = fields[4]
        fstype = line.split(" - ", 1)[1].split()[0]
        if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, fstype
    return kind


def limits(store_root: Path | None = None) -> list[tuple[str, str]]:
    """(what limits isolation here, the flags that lift it) for docker, podman, Kubernetes."""
    from rootless_build.sandbox.fuse_overlay import fuse_device_problem

    found = []
    status = _status()
    if status.get("Seccomp") == "2":
        found.append(("a seccomp filter is in force (Seccomp: 2 in /proc/self/status): it may refuse "
                      "user namespaces, mounts or the id maps' writes",
                      "docker/podman run --security-opt seccomp=unconfined; Kubernetes: "
                      "securityContext.seccompProfile.type: Unconfined"))
    try:
        cap_eff = int(status.get("CapEff", "0"), 16)
    except ValueError:
        cap_eff = 0
    if in_container() and not cap_eff >> CAP_SYS_ADMIN & 1:
        found.append(("no CAP_SYS_ADMIN in this namespace: no mounts (kernel overlay, /proc) and, "
                      "for a non-root user, newuidmap may not map the subordinate ids",
                      "docker/podman run --cap-add SYS_ADMIN; Kubernetes: "
                      "securityContext.capabilities.add: [SYS_ADMIN]"))
    if _read_int("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1:
        found.append(("AppArmor restricts unprivileged user namespaces "
                      "(kernel.apparmor_restrict_unprivileged_userns = 1)",
                      "on the host: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0; "
                      "docker/podman run --security-opt apparmor=unconfined"))
    if _read_int("/proc/sys/user/max_user_namespaces") == 0:
        found.append(("user namespaces are disabled (user.max_user_namespaces = 0)",
                      "on the host (or node): sysctl -w user.max_user_namespaces=15000"))
    fuse = fuse_device_problem()
    if fuse:
        found.append((fuse.split("; fix: ")[0], "docker/podman run --device /dev/fuse; Kubernetes: "
                      "a /dev/fuse device plugin resource, or securityContext.privileged: true"))
    if store_root is not None and _fs_type(store_root) == "overlay":
        found.append((f"the store {store_root} is on overlay (the container's own root): kernel "
                      "overlay refuses an upper dir there",
                      "put the store on a volume: docker/podman run -v rb-store:"
                      f"{store_root}; Kubernetes: an emptyDir volume mounted there"))
    if os.getuid() != 0:
        for name in ("newuidmap", "newgidmap"):
            helper = idmap.find_helper(name)
            if helper is None:
                found.append((f"{name} is missing", "apt-get install uidmap (in the image)"))
            elif not idmap.helper_usable(helper):
                found.append((f"{helper} has neither its setuid bit nor a file capability",
                              f"chmod u+s {helper} (in the image)"))
    try:
        own = idmap.read_proc_map("uid")
    except (OSError, ValueError):
        own = []
    if sum(e.count for e in own) == 1:
        found.append(("this container maps a single uid (/proc/self/uid_map): no other id "
                      "exists here, so chown to other users fails",
                      "podman run --userns=auto (or the default); Kubernetes: hostUsers: false "
                      "gives 65536 ids"))
    return found


def blockers_line(trials) -> str:
    """Why no candidate works (each trial's first failure), what limits this place and the
    flags that lift it, in one line."""
    why = []
    for t in trials:
        what = {"host": "namespaces", "full": "user namespace (subordinate ids)",
                "single": "user namespace (single id)"}.get(t.mapping, t.mapping)
        reason = (t.enter or t.namespaces or t.chroot or "").split("; run `rootless-build info`")[0]
        why.append(f"{what}: {reason}")
    # /dev/fuse and the store's place choose drivers, not whether a step can run at all.
    found = [(limit, fix) for limit, fix in limits()
             if not limit.startswith(("there is no /dev/fuse", "/dev/fuse", "the store"))]
    fixes = [ROOT_FLAG] + [fix for _, fix in found]
    return "; ".join(why) + (" [" + "; ".join(limit for limit, _ in found) + "]" if found else "") + \
        "; fix: " + " | ".join(dict.fromkeys(fixes))


def single_id_hint() -> str:
    """Why only one id could be mapped here, and the fixes (for a step's chown failure)."""
    host_user = os.environ.get("USER") or idmap.current_user()[0]
    fixes = []
    if not idmap.read_ranges(idmap.SUBUID, host_user, -1):
        fixes.append(f"give {host_user} subordinate ids: {idmap.subid_fix(host_user)}")
    if in_container():
        fixes.append("in a container, where newuidmap may not map them (no CAP_SYS_ADMIN, or seccomp): "
                     + ROOT_FLAG + ", or docker/podman run --cap-add SYS_ADMIN --security-opt "
                     "seccomp=unconfined (Kubernetes: securityContext.capabilities.add: [SYS_ADMIN], "
                     "seccompProfile.type: Unconfined)")
    return "fix: " + "; or ".join(fixes) if fixes else "run `rootless-build info` for what limits this place"
