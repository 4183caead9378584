"""Subordinate id ranges, the newuidmap/newgidmap helpers, and the id maps we write.

Container 0 is the user's own id; 1..N are the user's /etc/subuid (/etc/subgid) ranges, one
after another. Without a range or usable helpers we map only the user to root, like podman.
"""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from rootless_build.errors import SandboxError

SUBUID = Path("/etc/subuid")
SUBGID = Path("/etc/subgid")
HELPER_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin")
DEFAULT_RANGE_SIZE = 65536


@dataclass(frozen=True)
class IdRange:
    start: int
    count: int


@dataclass(frozen=True)
class MapEntry:
    """One line of /proc/PID/uid_map: container id, host id, size."""

    inside: int
    outside: int
    count: int


@dataclass(frozen=True)
class IdMapping:
    user: str
    uid_map: tuple[MapEntry, ...]
    gid_map: tuple[MapEntry, ...]
    use_helpers: bool           # write with newuidmap/newgidmap (else /proc/PID/*_map)
    warning: str = ""           # set for the single-id fallback: what it limits, and the fix

    @property
    def single(self) -> bool:
        return len(self.uid_map) == 1 and self.uid_map[0].count == 1


def current_user() -> tuple[str, int, int]:
    uid = os.getuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = os.environ.get("USER") or str(uid)
    return name, uid, os.getgid()


def read_ranges(path: Path, user: str, uid: int) -> list[IdRange]:
    """The ranges /etc/subuid (or subgid) grants a user, by name or numeric id, in file order."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    ranges = []
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) != 3 or parts[0] not in (user, str(uid)):
            continue
        try:
            start, count = int(parts[1]), int(parts[2])
        except ValueError:
            continue
        if count > 0:
            ranges.append(IdRange(start, count))
    return ranges


def find_helper(name: str) -> Path | None:
    found = shutil.which(name)
    if found:
        return Path(found)
    for d in HELPER_DIRS:
        candidate = Path(d) / name
        if candidate.is_file():
            return candidate
    return None


def helper_usable(path: Path) -> bool:
    """newuidmap only works when setuid root or given file capabilities (cap_setuid)."""
    try:
        st = path.stat()
    except OSError:
        return False
    if st.st_mode & stat.S_ISUID and st.st_uid == 0:
        return True
    try:
        return bool(os.getxattr(path, "security.capability"))
    except OSError:
        return False


def _entries(own_id: int, ranges: list[IdRange]) -> tuple[MapEntry, ...]:
    entries = [MapEntry(0, own_id, 1)]
    inside = 1
    for r in ranges:
        entries.append(MapEntry(inside, r.start, r.count))
        inside += r.count
    return tuple(entries)


def _own_ids(kind: str) -> tuple[MapEntry, ...]:
    """Every id this process's namespace has, each mapped to itself (the identity map for
    real root; a container root's own ranges in a container)."""
    try:
        entries = read_proc_map(kind)
    except (OSError, ValueError):
        entries = [MapEntry(0, 0, 4294967295)]
    return tuple(MapEntry(e.inside, e.inside, e.count) for e in entries)


def plan_mapping(single: bool = False) -> IdMapping:
    """What to map for the current user: the full ranges with the helpers, else one id
    (single=True: one id whatever is available, when the helpers are refused here)."""
    user, uid, gid = current_user()
    if uid == 0:
        # Root needs no helper: it maps every id it has.
        return IdMapping(user, _own_ids("uid"), _own_ids("gid"), use_helpers=False)
    # Both files are keyed by user name or numeric uid.
    subuids, subgids = read_ranges(SUBUID, user, uid), read_ranges(SUBGID, user, uid)
    helpers = [find_helper("newuidmap"), find_helper("newgidmap")]
    problem = ""
    if single:
        problem = ("newuidmap could not map the subordinate ids here (see `rootless-build info`)")
    elif not subuids or not subgids:
        missing = " and ".join(str(p) for p, r in ((SUBUID, subuids), (SUBGID, subgids)) if not r)
        problem = f"no subordinate ids for {user} in {missing}; fix: {subid_fix(user)}"
    elif None in helpers:
        problem = "newuidmap/newgidmap not found; fix: apt-get install uidmap"
    elif not all(helper_usable(h) for h in helpers):
        problem = f"{helpers[0]} and {helpers[1]} are not setuid root; fix: chmod u+s {helpers[0]} {helpers[1]}"
    if problem:
        return IdMapping(user, (MapEntry(0, uid, 1),), (MapEntry(0, gid, 1),), use_helpers=False, warning=(
            f"only your own id is mapped (as root) in the user namespace, so files cannot be owned "
            f"by other users (chown fails): {problem}"))
    return IdMapping(user, _entries(uid, subuids), _entries(gid, subgids), use_helpers=True)


def suggest_free_range(count: int = DEFAULT_RANGE_SIZE) -> IdRange:
    """A range no one holds in /etc/subuid or /etc/subgid, for the fix we print."""
    end = 100000
    for path in (SUBUID, SUBGID):
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            parts = line.split(":")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                end = max(end, int(parts[1]) + int(parts[2]))
    return IdRange(end, count)


def subid_fix(user: str, count: int = DEFAULT_RANGE_SIZE) -> str:
    r = suggest_free_range(count)
    span = f"{r.start}-{r.start + r.count - 1}"
    return f"usermod --add-subuids {span} --add-subgids {span} {user}"


# --- inside the namespace -----------------------------------------------------------------

def read_proc_map(kind: str = "uid") -> list[MapEntry]:
    """The id map of the current process's namespace (/proc/self/uid_map or gid_map)."""
    entries = []
    for line in Path(f"/proc/self/{kind}_map").read_text().splitlines():
        inside, outside, count = (int(x) for x in line.split())
        entries.append(MapEntry(inside, outside, count))
    return entries


def is_mapped(container_id: int, kind: str = "uid") -> bool:
    return any(e.inside <= container_id < e.inside + e.count for e in read_proc_map(kind))


def describe_map(entries: list[MapEntry]) -> str:
    return ", ".join(f"{e.inside}-{e.inside + e.count - 1}" for e in entries)


def insufficient_ids(uid: int, gid: int, what: str = "") -> SandboxError:
    """The error for an owner (or a step's user) outside the namespace's mapped ids."""
    host_user = os.environ.get("USER") or current_user()[0]
    needed = max(uid, gid) + 1
    fix = subid_fix(host_user, max(needed, DEFAULT_RANGE_SIZE))
    return SandboxError(
        f"potentially insufficient UIDs or GIDs available in user namespace (requested {uid}:{gid}"
        f"{' for ' + what if what else ''}): the namespace maps uids {describe_map(read_proc_map('uid'))} "
        f"and gids {describe_map(read_proc_map('gid'))}; fix: give {host_user} at least {needed} "
        f"subordinate ids: {fix}")


def lchown_mapped(path: str | os.PathLike, uid: int, gid: int) -> None:
    """os.lchown that explains EINVAL (an id the namespace does not map) in one line."""
    try:
        os.lchown(path, uid, gid)
    except OSError as e:
        if e.errno == errno.EINVAL:
            raise insufficient_ids(uid, gid, os.fspath(path)) from None
        raise
