"""User and group names -> numeric ids, from an image's /etc/passwd and /etc/group.

Docker's rules for `--chown` and USER: `name`, `uid`, `name:group`, `uid:gid`; with no
group, the gid is the same number as the uid (not the user's primary group) for COPY.
"""

from __future__ import annotations

from rootless_build.errors import BuildError


def parse_db(text: str | None) -> list[list[str]]:
    """Colon-separated records, comments and blank lines skipped."""
    if not text:
        return []
    return [line.split(":") for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _lookup(records: list[list[str]], name: str, what: str, filename: str) -> int:
    for fields in records:
        if len(fields) >= 3 and fields[0] == name:
            try:
                return int(fields[2])
            except ValueError:
                break
    raise BuildError(f"unable to find {what} {name}: no matching entries in {filename} file")


def resolve_chown(spec: str, read_file) -> tuple[int, int]:
    """`--chown=user[:group]` -> (uid, gid); read_file(path) returns a file's text or None."""
    user, _, group = spec.partition(":")
    if not user:
        raise BuildError(f"invalid --chown value {spec!r}: no user")
    uid = int(user) if user.isdigit() else _lookup(parse_db(read_file("/etc/passwd")), user, "user", "passwd")
    if not group:
        return uid, uid
    if group.isdigit():
        return uid, int(group)
    gid = _lookup(parse_db(read_file("/etc/group")), group, "group", "group")
    return uid, gid
