"""Where the store lives: --root, then $ROOTLESS_BUILD_ROOT, then $XDG_DATA_HOME."""

from __future__ import annotations

import os
from pathlib import Path

ROOT_ENV = "ROOTLESS_BUILD_ROOT"


def default_root() -> Path:
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV])
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data_home) / "rootless-build"


def runtime_dir() -> Path:
    """Per-user runtime state (sockets, pids): $XDG_RUNTIME_DIR/rootless-build or /tmp fallback."""
    base = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/rootless-build-{os.getuid()}"
    return Path(base) / "rootless-build"
