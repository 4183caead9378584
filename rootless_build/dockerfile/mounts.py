"""RUN --mount=type=cache,target=/root/.cache,... : CSV of key=value fields.

The parser only checks the shape (the values may hold variables); the build calls
`parse_mount(spec, env)` to expand the values and get a checked Mount.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rootless_build.dockerfile.expand import ExpansionError, expand_word
from rootless_build.errors import RootlessBuildError
from rootless_build.record import Record

TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING = ("shared", "private", "locked")
_KEYS = (
    "type", "from", "source", "src", "target", "dst", "destination", "readonly", "ro",
    "readwrite", "rw", "id", "sharing", "required", "mode", "uid", "gid", "env", "size",
)


class MountError(RootlessBuildError):
    """A bad --mount spec; the build adds the file and line."""



class Mount(Record, frozen=True):
    type: str = "bind"
    target: str = ""
    source: str = ""
    from_: str = ""  # a stage name or index, or an image; "" is the build context
    readonly: bool = True  # default: True for bind, secret, ssh; False for cache, tmpfs
    id: str = ""  # cache id / secret id / ssh id
    sharing: str = ""  # cache: shared (default), private, locked
    required: bool = False  # secret and ssh: fail when missing
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    env: str = ""  # secret: expose as this environment variable
    size: str = ""  # tmpfs size


def _fields(spec: str) -> list[str]:
    import csv  # only a RUN --mount gets here: a cached build of plain RUNs never does

    try:
        return next(csv.reader([spec], strict=True))
    except (csv.Error, StopIteration) as e:
        raise MountError(f"failed to parse csv mounts: {e}") from None


def check_mount_syntax(spec: str) -> None:
    """What can be checked before expansion: CSV, key=value fields, no variable in from=."""
    for field in _fields(spec):
        key, has_value, value = field.partition("=")
        key = key.lower()
        if not has_value:
            if key in ("readonly", "ro", "readwrite", "rw", "required"):
                continue
            raise MountError(f"invalid field '{field}' must be a key=value pair")
        if key == "from" and "$" in value[:-1]:
            raise MountError(f"'{key}' doesn't support variable expansion, define alias stage instead")


def _uint(value: str, key: str, base: int) -> int:
    digits = "[0-7]+" if base == 8 else "[0-9]+"
    if not re.fullmatch(digits, value) or int(value, base) >= 2**32:
        raise MountError(f"invalid value {value} for {key}")
    return int(value, base)


def _bool(value: str, key: str) -> bool:
    # Go's strconv.ParseBool
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise MountError(f"invalid value for {key}: {value}")


def parse_mount(spec: str, env: Mapping[str, str], escape: str = "\\") -> Mount:
    """Expand each value with `env` and build a checked Mount."""
    check_mount_syntax(spec)
    values: dict[str, object] = {"type": "bind"}
    readonly_given = False
    for field in _fields(spec):
        key, has_value, raw = field.partition("=")
        key = key.lower()
        if not has_value:  # bare readonly/readwrite/required
            value = "true"
        else:
            try:
                value = expand_word(raw, env, escape)
            except ExpansionError as e:
                raise MountError(str(e)) from None
        mount_type = values["type"]
        if key == "type":
            if value.lower() not in TYPES:
                raise MountError(f'unsupported mount type "{value}"')
            values["type"] = value.lower()
        elif key == "from":
            values["from_"] = value
        elif key in ("source", "src"):
            values["source"] = value
        elif key in ("target", "dst", "destination"):
            values["target"] = value
        elif key in ("readonly", "ro"):
            values["readonly"], readonly_given = _bool(value, key), True
        elif key in ("readwrite", "rw"):
            values["readonly"], readonly_given = not _bool(value, key), True
        elif key == "required":
            if mount_type not in ("secret", "ssh"):
                raise MountError(f"unexpected key '{key}' for mount type '{mount_type}'")
            values["required"] = _bool(value, key)
        elif key == "id":
            values["id"] = value
        elif key == "sharing":
            if value.lower() not in SHARING:
                raise MountError(f'unsupported sharing value "{value}"')
            values["sharing"] = value.lower()
        elif key == "mode":
            values["mode"] = _uint(value, key, 8)
        elif key in ("uid", "gid"):
            values[key] = _uint(value, key, 10)
        elif key in ("env", "size"):
            values[key] = value
        else:
            raise MountError(f"unexpected key '{key}' in '{field}'")
    if not readonly_given:
        values["readonly"] = values["type"] not in ("cache", "tmpfs")
    mount = Mount(**values)  # type: ignore[arg-type]
    _check(mount)
    return mount


def _check(m: Mount) -> None:
    file_info_allowed = m.type in ("secret", "ssh", "cache")
    for name in ("mode", "uid", "gid"):
        if getattr(m, name) is not None and not file_info_allowed:
            raise MountError(f'{name} not allowed for "{m.type}" type mounts')
    if m.sharing and m.type != "cache":
        raise MountError(f"invalid cache sharing set for {m.type} mount")
    if m.type == "secret":
        if m.from_:
            raise MountError("secret mount should not have a from")
        if not (m.source or m.target or m.id or m.env):
            raise MountError("invalid secret mount. one of source, target required")
        if m.source and m.id:
            raise MountError("both source and id can't be set")
    if m.type not in ("secret", "ssh") and not m.target:
        raise MountError(f"mount type {m.type} requires a target")
    if m.env and m.type != "secret":
        raise MountError(f"unexpected key 'env' for mount type '{m.type}'")
    if m.size and m.type != "tmpfs":
        raise MountError(f"unexpected key 'size' for mount type '{m.type}'")
