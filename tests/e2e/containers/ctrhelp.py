"""Helpers for the container tests (a module of its own: every test dir has a conftest)."""

from __future__ import annotations

import json
import os
from pathlib import Path


def record(store_root: Path, container_id: str) -> dict:
    """container.json with the state (state.json) under "state"."""
    folder = store_root / "containers" / container_id
    return {**json.loads((folder / "container.json").read_bytes()),
            "state": json.loads((folder / "state.json").read_bytes())}


def pexpect_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"TERM": "xterm", "COLUMNS": "200", "NO_COLOR": "1"})
    return env
