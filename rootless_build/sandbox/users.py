"""USER resolution against the image's own /etc/passwd and /etc/group (runc's rules).

`name`, `uid`, `name:group`, `uid:gid`: a name must exist in the image; a number need not.
Supplementary groups come from /etc/group membership, only when no group was given.
"""

from __future__ import annotations

from pathlib import Path

from rootless_build.errors import SandboxError


def _entries(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as e:
        raise SandboxError(f"reading {path}: {e.strerror}") from None
    rows = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


def _passwd(rootfs: Path) -> list[list[str]]:
    return [r for r in _entries(rootfs / "etc/passwd") if len(r) >= 7 and r[2].isdigit() and r[3].isdigit()]


def _group(rootfs: Path) -> list[list[str]]:
    return [r for r in _entries(rootfs / "etc/group") if len(r) >= 4 and r[2].isdigit()]


def resolve_user(rootfs_dir: Path, spec: str) -> tuple[int, int, list[int]]:
    """(uid, gid, supplementary gids) for a USER value, read from the rootfs's files."""
    spec = spec.strip()
    if not spec:
        return 0, 0, []
    user_part, _, group_part = spec.partition(":")
    match = None
    for row in _passwd(rootfs_dir):
        if row[0] == user_part or (user_part.isdigit() and int(row[2]) == int(user_part)):
            match = row
            break
    if match is not None:
        uid, gid = int(match[2]), int(match[3])
    elif user_part.isdigit():
        uid, gid = int(user_part), 0
    else:
        raise SandboxError(f"unable to find user {user_part}: no matching entries in passwd file")
    if group_part:
        return uid, _resolve_group(rootfs_dir, group_part), []
    groups: list[int] = []
    if match is not None:
        for row in _group(rootfs_dir):
            members = [m for m in row[3].split(",") if m]
            if match[0] in members and int(row[2]) not in groups:
                groups.append(int(row[2]))
    return uid, gid, groups


def _resolve_group(rootfs_dir: Path, name: str) -> int:
    for row in _group(rootfs_dir):
        if row[0] == name or (name.isdigit() and int(row[2]) == int(name)):
            return int(row[2])
    if name.isdigit():
        return int(name)
    raise SandboxError(f"unable to find group {name}: no matching entries in group file")


def home_dir(rootfs_dir: Path, uid: int) -> str:
    """The user's home from /etc/passwd, "/" when unknown (runc's HOME default)."""
    for row in _passwd(rootfs_dir):
        if int(row[2]) == uid:
            return row[5] or "/"
    return "/"
