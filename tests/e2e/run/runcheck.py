"""Checks shared by the RUN end-to-end tests."""

from __future__ import annotations

import os
from pathlib import Path

DRIVERS = ["overlay", "fuse-overlayfs", "vfs"]


def rootless_owner(path: Path) -> tuple[int, int]:
    """The owner umoci --rootless recorded for an unpacked file: the user.rootlesscontainers
    xattr (protobuf: 1 = uid, 2 = gid; absent or unset fields are 0)."""
    try:
        raw = os.getxattr(path, "user.rootlesscontainers", follow_symlinks=False)
    except OSError:
        return 0, 0
    fields = {1: 0, 2: 0}
    i = 0
    while i < len(raw):
        key = raw[i]
        i += 1
        value = shift = 0
        while True:
            byte = raw[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        fields[key >> 3] = value
    return fields[1], fields[2]


def history_matches_layers(config: dict) -> bool:
    """history entries without empty_layer correspond one to one to diff_ids."""
    layered = [h for h in config.get("history", []) if not h.get("empty_layer")]
    return len(layered) == len(config["rootfs"]["diff_ids"])


def store_is_clean(rb) -> list[str]:
    """What a finished build must not leave: temp entries in $ROOT/tmp; and fsck's verdict."""
    problems = [f"tmp/{name}" for name in os.listdir(rb.root / "tmp")]
    checked = rb("fsck")
    if checked.returncode != 0:
        problems.append(f"fsck: {checked.stdout}{checked.stderr}")
    return problems
