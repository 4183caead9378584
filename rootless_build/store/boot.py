"""This boot's identity: pids, process start times and unsynced files only mean
something within the boot that made them."""

from __future__ import annotations

import functools

_BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


@functools.cache
def boot_id() -> str:
    """The kernel's random id of this boot ("" where /proc does not say)."""
    try:
        with open(_BOOT_ID_PATH) as f:
            return f.read().strip()
    except OSError:
        return ""
