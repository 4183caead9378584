"""Named volumes: $ROOT/volumes/<name>/_data (what containers mount) and volume.json (the
record: labels, options, whether it is anonymous and still to be filled from the image),
as podman lays them out. Creating and removing one, and creating a container that uses
one, happen under $ROOT/volumes/.lock: a volume is never removed while a container being
created takes it."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

from rootless_build.containers.catalog import Catalog, NoSuchContainer
from rootless_build.containers.removal import remove_tree
from rootless_build.errors import ContainerError, UsageError
from rootless_build.store import atomic
from rootless_build.store.lock import locked

DATA = "_data"
RECORD = "volume.json"
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")
OPTION_KEYS = ("type", "device", "o")
TMPFS_MOUNT_OPTIONS = ("nosuid", "nodev", "noexec", "suid", "dev", "exec", "rw")


class NoSuchVolume(ContainerError):
    pass


@dataclass
class Volume:
    name: str
    mountpoint: str
    created_at: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False
    needs_copy_up: bool = True      # filled from the image at its first mount (docker's copy-up)
    by_create: bool = False         # made by `volume create`: inspect shows {} for no labels/options, as docker

    @property
    def is_tmpfs(self) -> bool:
        return self.options.get("type") == "tmpfs"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(f'"{name}" includes invalid characters for a local volume name, only '
                         '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
                         "directory, use absolute path")
    return name


def check_options(options: dict[str, str]) -> dict[str, str]:
    """The local driver's options a rootless user can have: none (a directory), or a tmpfs
    (type=tmpfs, device=tmpfs, o=size=...,mode=...)."""
    for key in options:
        if key not in OPTION_KEYS:
            raise UsageError(f"invalid option key: {key!r} (the local driver takes type, device and o)")
    if not options:
        return options
    if options.get("type") != "tmpfs" or options.get("device", "tmpfs") != "tmpfs":
        raise UsageError("volume options: only type=tmpfs (device=tmpfs, o=size=N,mode=M) can be "
                         "mounted without root; other file systems need root")
    for item in filter(None, options.get("o", "").split(",")):
        key = item.split("=", 1)[0]
        if key not in ("size", "mode", *TMPFS_MOUNT_OPTIONS):
            raise UsageError(f"volume option o={options['o']}: {key} is not a tmpfs option here "
                             "(size, mode, nosuid, nodev, noexec)")
    return options


def parse_options(items: list[str], flag: str = "--opt") -> dict[str, str]:
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key or not eq:
            raise UsageError(f"{flag} {item}: expected KEY=VALUE")
        out[key] = value
    return check_options(out)


class Volumes:
    def __init__(self, store_root: Path):
        self.dir = Path(store_root) / "volumes"

    def lock(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        return locked(self.dir / ".lock")

    def path(self, name: str) -> Path:
        return self.dir / name

    def get(self, name: str) -> Volume:
        if not _NAME.match(name):
            raise NoSuchVolume(f"no such volume: {name}")
        try:
            raw = json.loads((self.path(name) / RECORD).read_bytes())
        except FileNotFoundError:
            raise NoSuchVolume(f"no such volume: {name}") from None
        except (OSError, ValueError) as e:
            raise ContainerError(f"volume {name}: its record {self.path(name) / RECORD} cannot be "
                                 f"read ({e}); remove {self.path(name)} to go on") from None
        known = {f.name for f in fields(Volume)}
        return Volume(**{**{k: v for k, v in raw.items() if k in known},
                         "name": name, "mountpoint": str(self.path(name) / DATA)})

    def all(self) -> list[Volume]:
        try:
            names = sorted(e.name for e in os.scandir(self.dir) if e.is_dir() and _NAME.match(e.name))
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            try:
                out.append(self.get(name))
            except NoSuchVolume:
                continue        # half made or half removed
        return out

    def create(self, name: str | None = None, *, labels: dict[str, str] | None = None,
               options: dict[str, str] | None = None, anonymous: bool = False, by_create: bool = False) -> Volume:
        """A new volume; an existing name is returned as it is (docker's `volume create`).
        Call under lock()."""
        if name:
            check_name(name)
            try:
                return self.get(name)
            except NoSuchVolume:
                pass
        else:
            name, anonymous = os.urandom(32).hex(), True     # docker's 64-hex names
        folder = self.path(name)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / DATA).mkdir(mode=0o755, exist_ok=True)
        created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        volume = Volume(name, str(folder / DATA), created, dict(labels or {}),
                        check_options(dict(options or {})), anonymous, by_create=by_create)
        self._save(volume)
        return volume

    def _save(self, volume: Volume) -> None:
        data = {k: v for k, v in asdict(volume).items() if k not in ("name", "mountpoint")}
        atomic.write_bytes(self.path(volume.name) / RECORD,
                           json.dumps(data, indent=1, sort_keys=True).encode() + b"\n", mode=0o600)

    def mark_filled(self, name: str) -> None:
        """The copy-up happened (or had nothing to copy): never again, as podman."""
        volume = self.get(name)
        if volume.needs_copy_up:
            volume.needs_copy_up = False
            self._save(volume)

    def remove(self, name: str) -> None:
        """Its data may hold files of subordinate ids: removed inside the user namespace
        when the user cannot. The record goes last, so a failed removal can be retried."""
        folder = self.path(name)
        remove_tree(folder / DATA)
        remove_tree(folder)


def users(catalog: Catalog) -> dict[str, list[tuple[str, str]]]:
    """Volume name -> the containers (id, name) whose records mount it."""
    out: dict[str, list[tuple[str, str]]] = {}
    for container_id in sorted(catalog.ids()):
        try:
            container = catalog.load(container_id)
        except NoSuchContainer:
            continue
        for m in container.config.mounts:
            if m.type == "volume":
                out.setdefault(m.name, []).append((container.id, container.name))
    return out


def remove_unused(volumes: Volumes, catalog: Catalog, name: str) -> None:
    """`volume rm`: refused, naming the container, while one uses it (docker's message)."""
    with volumes.lock():
        volumes.get(name)
        used = users(catalog).get(name)
        if used:
            raise ContainerError(f"remove {name}: volume is in use - "
                                 f"[{', '.join(cid for cid, _ in used)}] ({', '.join(n for _, n in used)})")
        volumes.remove(name)


def remove_anonymous(volumes: Volumes, names: list[str], catalog: Catalog | None = None) -> None:
    """rm -v / run --rm: the container's anonymous volumes (named ones stay, as docker);
    one another container mounts too (by its name) stays. Without a catalog: under lock()
    already, for volumes only just made."""
    if catalog is None:
        for name in names:
            volumes.remove(name)
        return
    with volumes.lock():
        used = users(catalog)
        for name in names:
            if name not in used:
                volumes.remove(name)


def attach(volumes: Volumes, pairs: list) -> list:
    """The container's Mounts with each volume made on first use (call under lock()):
    pairs are mountspec.parse_all's (Mount, VolumeRequest | None)."""
    mounts = []
    for mount, request in pairs:
        if request is not None:
            volume = volumes.create(request.name or None, labels=request.labels, options=request.options)
            mount.name, mount.source = volume.name, volume.mountpoint
            if not request.copy_up:
                mount.options = [*mount.options, "nocopy"]
        mounts.append(mount)
    return mounts
