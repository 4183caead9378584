"""run/create's storage flags, parsed once into the record's Mounts and Devices:
-v/--volume, --mount (docker's CSV), --tmpfs and --device. Volumes are named here, and
made (or found) by containers/volumes.py when the container is created."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field

from rootless_build.containers.record import Device, Mount
from rootless_build.errors import UsageError

# docker's --tmpfs and --mount type=tmpfs: noexec, nosuid, nodev unless said otherwise
TMPFS_DEFAULT_FLAGS = ("noexec", "nosuid", "nodev")
_FLAG_OPPOSITES = {"exec": "noexec", "suid": "nosuid", "dev": "nodev"}
_SIZE = re.compile(r"([0-9]+)([kmg]?)", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_MOUNT_KEYS = {
    "type", "source", "src", "target", "destination", "dst", "readonly", "ro", "consistency",
    "bind-propagation", "bind-nonrecursive", "volume-driver", "volume-label", "volume-nocopy",
    "volume-opt", "tmpfs-size", "tmpfs-mode",
}
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")


@dataclass
class VolumeRequest:
    """A volume a mount names, to be created on first use with these labels and options."""

    name: str                   # "" for an anonymous one
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    copy_up: bool = True


def _absolute(path: str, what: str) -> str:
    if not path.startswith("/"):
        raise UsageError(f"{what}: the container path must be absolute")
    return os.path.normpath("/" + path.lstrip("/"))     # normpath keeps a leading "//"


def _host_path(source: str, what: str) -> str:
    if not os.path.exists(source):
        raise UsageError(f"{what}: bind source path does not exist: {source}")
    return os.path.realpath(source)


def parse_volume(spec: str) -> tuple[Mount, VolumeRequest | None]:
    """-v [HOST-DIR|NAME:]CONTAINER-DIR[:ro|rw]; a lone CONTAINER-DIR is an anonymous volume."""
    what = f"-v {spec}"
    parts = spec.split(":")
    if len(parts) > 3 or not all(parts):
        raise UsageError(f"{what}: expected [HOST-DIR|VOLUME:]CONTAINER-DIR[:ro]")
    options: list[str] = []
    if len(parts) == 3 or (len(parts) == 2 and not parts[1].startswith("/") and parts[0].startswith("/")):
        options = parts.pop().split(",")
    if any(o not in ("ro", "rw", "z", "Z", "nocopy") for o in options):
        raise UsageError(f"{what}: unknown option (ro, rw or nocopy)")
    readonly, mode = "ro" in options, ",".join(options)
    if len(parts) == 1:
        dest = _absolute(parts[0], what)
        return (Mount("", dest, readonly, type="volume", anonymous=True, mode=mode),
                VolumeRequest("", copy_up="nocopy" not in options))
    source, dest = parts[0], _absolute(parts[1], what)
    if source.startswith("/"):
        return Mount(_host_path(source, what), dest, readonly, mode=mode), None
    from rootless_build.containers.volumes import check_name

    check_name(source)
    return (Mount("", dest, readonly, type="volume", name=source, mode=mode or "z"),
            VolumeRequest(source, copy_up="nocopy" not in options))


def _mount_fields(spec: str) -> list[tuple[str, str]]:
    import csv  # only a --mount gets here

    bad = f'invalid argument "{spec}" for "--mount" flag'
    try:
        items = next(csv.reader([spec], strict=True))
    except (csv.Error, StopIteration) as e:
        raise UsageError(f"{bad}: {e}") from None
    out = []
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if key not in _MOUNT_KEYS:
            raise UsageError(f"{bad}: unexpected key '{key}' in '{item}'")
        if not eq and key not in ("readonly", "ro", "volume-nocopy", "bind-nonrecursive"):
            raise UsageError(f"{bad}: invalid field '{item}' must be a key=value pair")
        out.append((key, value if eq else "true"))
    return out


def _bool(value: str, bad: str, key: str) -> bool:
    if value.lower() in ("1", "true"):
        return True
    if value.lower() in ("0", "false"):
        return False
    raise UsageError(f"{bad}: invalid value for {key}: {value}")


def parse_mount(spec: str) -> tuple[Mount, VolumeRequest | None]:
    """docker's --mount type=bind|volume|tmpfs,source=,target=[,readonly][,...]."""
    bad = f'invalid argument "{spec}" for "--mount" flag'
    kind, source, target, readonly, propagation = "volume", "", "", False, ""
    tmpfs_size, tmpfs_mode = "", ""
    request = VolumeRequest("")
    keys = set()
    for key, value in _mount_fields(spec):
        keys.add(key)
        if key == "type":
            kind = value
        elif key in ("source", "src"):
            source = value
        elif key in ("target", "destination", "dst"):
            target = value
        elif key in ("readonly", "ro"):
            readonly = _bool(value, bad, key)
        elif key == "bind-propagation":
            propagation = value
        elif key == "bind-nonrecursive" and _bool(value, bad, key):
            raise UsageError(f"{bad}: bind-nonrecursive is not supported here (binds are recursive)")
        elif key == "volume-driver" and value != "local":
            raise UsageError(f"{bad}: volume-driver {value}: only the local driver exists here")
        elif key == "volume-label":
            name, _, label = value.partition("=")
            request.labels[name] = label
        elif key == "volume-nocopy":
            request.copy_up = not _bool(value, bad, key)
        elif key == "volume-opt":
            name, eq, option = value.partition("=")
            if not eq:
                raise UsageError(f"{bad}: invalid volume-opt '{value}': expected KEY=VALUE")
            request.options[name] = option
        elif key == "tmpfs-size":
            tmpfs_size = value
        elif key == "tmpfs-mode":
            tmpfs_mode = value
    if kind not in ("bind", "volume", "tmpfs"):
        raise UsageError(f"{bad}: mount type '{kind}' is not bind, volume or tmpfs")
    if not target:
        raise UsageError(f"{bad}: target is required")
    for prefix in ("bind-", "volume-", "tmpfs-"):
        stray = sorted(k for k in keys if k.startswith(prefix) and prefix != f"{kind}-")
        if stray:
            raise UsageError(f"{bad}: {stray[0]} is not allowed for a {kind} mount")
    dest = _absolute(target, f"--mount {spec}")
    if kind == "tmpfs":
        if source:
            raise UsageError(f"{bad}: source is not allowed for a tmpfs mount")
        options = [*TMPFS_DEFAULT_FLAGS]
        if tmpfs_size:
            options.append(f"size={tmpfs_bytes(tmpfs_size, bad)}")
        if tmpfs_mode:
            options.append(f"mode={_mode(tmpfs_mode, bad)}")
        return Mount("", dest, readonly, type="tmpfs", options=options), None
    if kind == "bind":
        if not source:
            raise UsageError(f"{bad}: source is required for a bind mount")
        if propagation and propagation not in PROPAGATIONS:
            raise UsageError(f"{bad}: invalid bind-propagation {propagation!r}")
        if propagation not in ("", "private", "rprivate"):
            raise UsageError(f"{bad}: bind-propagation={propagation} is not supported rootless here: "
                             "the container's mounts are private (rprivate)")
        return Mount(_host_path(source, f"--mount {spec}"), dest, readonly), None
    from rootless_build.containers.volumes import check_name, check_options

    check_options(request.options)
    if source:
        check_name(source)
        request.name = source
    return (Mount("", dest, readonly, type="volume", name=source, anonymous=not source, mode="z"), request)


def tmpfs_bytes(text: str, bad: str) -> int:
    """A size as docker's tmpfs-size (bytes, or k/m/g binary units)."""
    match = _SIZE.fullmatch(text.strip())
    if not match or int(match.group(1)) <= 0:
        raise UsageError(f"{bad}: invalid size {text!r} (bytes, or a number with k, m or g)")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def _mode(text: str, bad: str) -> str:
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        raise UsageError(f"{bad}: invalid mode {text!r} (octal, e.g. 1777)")
    return f"{mode:o}"


def parse_tmpfs(spec: str) -> Mount:
    """--tmpfs /path[:size=64m,mode=1777,exec,...]: noexec,nosuid,nodev by default, as docker."""
    path, _, opts = spec.partition(":")
    bad = f"--tmpfs {spec}"
    dest = _absolute(path, bad)
    flags = list(TMPFS_DEFAULT_FLAGS)
    options: list[str] = []
    readonly = False
    for item in filter(None, opts.split(",")):
        key, eq, value = item.partition("=")
        if key == "size" and eq:
            options.append(f"size={tmpfs_bytes(value, bad)}")
        elif key == "mode" and eq:
            options.append(f"mode={_mode(value, bad)}")
        elif item in ("ro", "rw"):
            readonly = item == "ro"
        elif item in TMPFS_DEFAULT_FLAGS:
            pass
        elif item in _FLAG_OPPOSITES:
            flags.remove(_FLAG_OPPOSITES[item])
        else:
            raise UsageError(f"{bad}: unknown option {item!r} (size=, mode=, ro, rw, exec, suid, dev)")
    return Mount("", dest, readonly, type="tmpfs", options=flags + options)


def parse_device(spec: str) -> Device:
    """--device HOST[:CONTAINER][:rwm]: a character or block device node of the host."""
    parts = spec.split(":")
    bad = f"--device {spec}"
    perms = "rwm"
    if len(parts) > 1 and re.fullmatch(r"[rwm]{1,3}", parts[-1]):
        perms = parts.pop()
    if len(parts) > 2 or not parts[0]:
        raise UsageError(f"{bad}: expected HOST-DEVICE[:CONTAINER-PATH][:rwm]")
    host = parts[0]
    dest = _absolute(parts[1] if len(parts) == 2 else host, bad)
    try:
        st = os.stat(host)
    except OSError as e:
        raise UsageError(f"{bad}: error gathering device information while adding custom device "
                         f"{host!r}: {e.strerror}") from None
    if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        raise UsageError(f"{bad}: {host} is not a device node")
    return Device(os.path.realpath(host), dest, perms)


def parse_all(volumes: list[str], mounts: list[str], tmpfs: list[str]) -> list[tuple[Mount, VolumeRequest | None]]:
    """Every mount asked for: -v, --mount, --tmpfs; one per container path."""
    out = [parse_volume(v) for v in volumes] + [parse_mount(m) for m in mounts]
    out += [(parse_tmpfs(t), None) for t in tmpfs]
    seen: set[str] = set()
    for m, _ in out:
        if m.destination in seen:
            raise UsageError(f"duplicate mount point: {m.destination}")
        seen.add(m.destination)
    return out


def with_image_volumes(asked: list[tuple[Mount, VolumeRequest | None]],
                       image_volumes: dict | None) -> list[tuple[Mount, VolumeRequest | None]]:
    """An anonymous volume for each of the image's VOLUMEs that no mount asked for covers
    (docker's)."""
    out = list(asked)
    seen = {m.destination for m, _ in asked}
    for path in sorted(image_volumes or {}):
        dest = os.path.normpath("/" + path.lstrip("/"))
        if dest not in seen:
            seen.add(dest)
            out.append((Mount("", dest, type="volume", anonymous=True), VolumeRequest("")))
    return out
