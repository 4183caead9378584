"""A container's recorded mounts and devices as the sandbox's mounts, at each start."""

from __future__ import annotations

from pathlib import Path

from rootless_build.containers.record import RunConfig
from rootless_build.containers.volumes import NoSuchVolume, Volumes
from rootless_build.errors import ContainerError
from rootless_build.sandbox.spec import Mount


def _tmpfs(target: str, options: list[str], readonly: bool) -> Mount:
    """docker's tmpfs options: size= (bytes or k/m/g), mode= (octal), flags."""
    size = mode = None
    flags = ["ro"] if readonly else []
    for item in options:
        key, _, value = item.partition("=")
        if key == "size":
            size = _bytes(value)
        elif key == "mode":
            mode = int(value, 8)
        elif key in ("nosuid", "nodev", "noexec"):
            flags.append(key)
    return Mount("tmpfs", target, size=size, mode=mode, readonly=readonly, flags=tuple(flags))


def _bytes(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower()
    return int(text[:-1]) * units[text[-1]] if text[-1:] in units else int(text)


def sandbox_mounts(store, cfg: RunConfig) -> tuple[list[Mount], list[str]]:
    """(the step's mounts, the volumes filled from the image by this start)."""
    mounts: list[Mount] = []
    copy_up: list[str] = []
    volumes = Volumes(store.root)
    for m in cfg.mounts:
        if m.type == "tmpfs":
            mounts.append(_tmpfs(m.destination, m.options, m.readonly))
            continue
        if m.type != "volume":
            mounts.append(Mount("volume", m.destination, Path(m.source), readonly=m.readonly))
            continue
        try:
            volume = volumes.get(m.name)
        except NoSuchVolume:
            raise ContainerError(f"volume {m.name} (mounted on {m.destination}) no longer exists") from None
        if volume.is_tmpfs:     # --opt type=tmpfs: a fresh tmpfs at every start, as docker's local driver
            mounts.append(_tmpfs(m.destination, volume.options.get("o", "").split(","), m.readonly))
            continue
        fill = volume.needs_copy_up and "nocopy" not in m.options
        mounts.append(Mount("volume", m.destination, Path(volume.mountpoint), readonly=m.readonly, copy_up=fill))
        if volume.needs_copy_up:
            copy_up.append(volume.name)
    for d in cfg.devices:
        mounts.append(Mount("device", d.path_in_container, Path(d.path_on_host), readonly="w" not in d.permissions))
    return mounts, copy_up
