"""What the `volume` commands do over the store's volumes: docker's inspect shape, ls
filters, prune. Storage itself is containers/volumes.py."""

from __future__ import annotations

import os

from rootless_build.containers.catalog import Catalog
from rootless_build.containers.volumes import NoSuchVolume, Volume, Volumes, users
from rootless_build.store.filters import Filters

LS_KEYS = ("name", "label", "dangling", "driver")
PRUNE_KEYS = ("label", "label!", "all")
HEADERS = {"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
           "Labels": "LABELS", "CreatedAt": "CREATED AT"}


def inspect(volume: Volume) -> dict:
    """`volume inspect`: docker's fields and order."""
    empty: dict[str, str] | None = {} if volume.by_create else None
    return {"CreatedAt": volume.created_at, "Driver": "local", "Labels": dict(volume.labels) or empty,
            "Mountpoint": volume.mountpoint, "Name": volume.name, "Options": dict(volume.options) or empty,
            "Scope": "local"}


def fields(volume: Volume) -> dict:
    """A row for `volume ls --format`: .Labels is docker's k=v,k=v string."""
    return {**inspect(volume), "Labels": ",".join(f"{k}={v}" for k, v in sorted(volume.labels.items()))}


def listing(volumes: Volumes, catalog: Catalog, wanted: Filters) -> list[Volume]:
    dangling = wanted.boolean("dangling")
    used = users(catalog) if dangling is not None else {}
    out = []
    for volume in volumes.all():
        if wanted.get("name") and not any(n in volume.name for n in wanted.get("name")):
            continue
        if wanted.get("driver") and "local" not in wanted.get("driver"):
            continue
        if not wanted.labels_match(volume.labels):
            continue
        if dangling is not None and (volume.name not in used) != dangling:
            continue
        out.append(volume)
    return out


def prune(volumes: Volumes, catalog: Catalog, wanted: Filters, all_: bool) -> tuple[list[str], int]:
    """Unused volumes (anonymous ones only unless all_, as docker 23+): (names, bytes freed)."""
    all_ = all_ or any(v.lower() in ("true", "1") for v in wanted.get("all"))
    removed, freed = [], 0
    with volumes.lock():
        used = users(catalog)
        for volume in volumes.all():
            if volume.name in used or (not volume.anonymous and not all_):
                continue
            if not wanted.labels_match(volume.labels) or _label_absent_fails(wanted, volume):
                continue
            size = disk_usage(volume.mountpoint)
            try:
                volumes.remove(volume.name)
            except NoSuchVolume:
                continue
            removed.append(volume.name)
            freed += size
    return removed, freed


def _label_absent_fails(wanted: Filters, volume: Volume) -> bool:
    """label!=K[=V]: a volume carrying that label is kept."""
    for item in wanted.get("label!"):
        name, eq, value = item.partition("=")
        if name in volume.labels and (not eq or volume.labels[name] == value):
            return True
    return False


def disk_usage(path: str) -> int:
    """Bytes of the files under path that the user can see (a sub-id's dir may hide some)."""
    total = 0
    for top, _dirs, files in os.walk(path, onerror=lambda _e: None):
        for name in files:
            try:
                total += os.lstat(os.path.join(top, name)).st_size
            except OSError:
                pass
    return total
