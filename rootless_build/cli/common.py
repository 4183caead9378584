"""Helpers shared by commands: opening the store from the global options, formatting."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click

from rootless_build.errors import UsageError

# Kept here (not imported from sandbox/) so that reading them costs no import.
SANDBOX_CHOICES = {"storage_driver": ("overlay", "fuse-overlayfs", "vfs"),
                   "isolation": ("oci", "rootless", "chroot")}


def open_store(ctx: click.Context):
    from rootless_build.store import Store

    return Store.open(ctx.find_root().obj.get("root"))


def storage_driver(ctx: click.Context) -> str | None:
    """--storage-driver (or ROOTLESS_BUILD_STORAGE_DRIVER), else the config file's."""
    return ctx.find_root().obj.get("storage_driver") or configured("storage_driver")


def isolation(ctx: click.Context, local: str | None = None) -> str | None:
    """A command's --isolation, the global one (or ROOTLESS_BUILD_ISOLATION), else the config file's."""
    return local or ctx.find_root().obj.get("isolation") or configured("isolation")


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "rootless-build" / "config.toml"


def configured(key: str) -> str | None:
    """`storage_driver = "..."` / `isolation = "..."` from $XDG_CONFIG_HOME/rootless-build/
    config.toml (default ~/.config), checked here, where it enters; None when unset."""
    path = config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    import tomllib

    try:
        value = tomllib.loads(raw.decode("utf-8")).get(key)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: {e}") from None
    if value is None:
        return None
    choices = SANDBOX_CHOICES[key]
    if value not in choices:
        raise UsageError(f"{path}: {key} = {value!r}: choose one of {', '.join(choices)}")
    return value


def human_size(n: int) -> str:
    """docker's sizes: 1000-based, 3 significant digits (4.26MB, 1.2GB, 512B)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{n}B"
        n /= 1000
    return f"{n}B"


def human_ago(when: datetime | None) -> str:
    """'3 minutes ago', like docker's CREATED column."""
    if when is None:
        return "N/A"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (datetime.now(UTC) - when).total_seconds()
    if seconds < 1:
        return "Less than a second ago"
    for unit, size in (("year", 31536000), ("month", 2592000), ("week", 604800), ("day", 86400),
                       ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size:
            count = int(seconds // size)
            if unit == "hour" and count == 1:
                return "About an hour ago"
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "Less than a second ago"


def print_table(rows: list[list[str]], headers: list[str]) -> None:
    """Left-aligned columns separated by three spaces, as docker prints them."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)]
        click.echo("   ".join(cells).rstrip())
