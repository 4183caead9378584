"""`rootless-build info`: what this machine offers for rootless builds, as plain data."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from pathlib import Path

from rootless_build import __version__
from rootless_build.sandbox import diagnose, drivers, fuse_overlay, idmap
from rootless_build.sandbox.userns import in_userns, spawn_in_userns


def _helper(name: str) -> dict:
    path = idmap.find_helper(name)
    return {"path": str(path) if path else None, "usable": bool(path and idmap.helper_usable(path))}


def _ranges(path: Path, user: str, uid: int) -> list[str]:
    return [f"{r.start}:{r.count}" for r in idmap.read_ranges(path, user, uid)]


def probe_drivers(store_root: Path) -> dict[str, str | None]:
    """Each driver -> None (works) or why not, probed inside the user namespace (entered
    for the purpose when we are not in it yet)."""
    if in_userns() or os.getuid() == 0:
        return drivers.probe_all(store_root)
    with tempfile.TemporaryFile() as out:
        status = spawn_in_userns(["rootless_build.sandbox.info", "--probe", str(store_root)],
                                 module=True, warn=None, stdout=out)
        out.seek(0)
        text = out.read().decode()
    if status != 0:
        return {name: f"cannot enter the user namespace (status {status})" for name in drivers.DRIVERS}
    return json.loads(text)


def machine_info(store_root: Path) -> dict:
    """Everything `rootless-build info` shows, as JSON-ready data."""
    user, uid, gid = idmap.current_user()
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/rootless-build-{uid}"
    probes = probe_drivers(store_root)
    mapping = idmap.plan_mapping()
    return {
        "user": {"name": user, "uid": uid, "gid": gid,
                 "subuid": _ranges(idmap.SUBUID, user, uid), "subgid": _ranges(idmap.SUBGID, user, uid),
                 "id_mapping": "single id" if mapping.single and uid != 0 else "full"},
        "helpers": {"newuidmap": _helper("newuidmap"), "newgidmap": _helper("newgidmap")},
        "kernel": platform.release(),
        "storage_drivers": {name: ("ok" if error is None else error) for name, error in probes.items()},
        "default_driver": next((n for n, e in probes.items() if e is None), None),
        "fuse_overlayfs": {"path": fuse_overlay.find_binary(), "version": fuse_overlay.version(),
                           "dev_fuse": os.access("/dev/fuse", os.R_OK | os.W_OK)},
        "store_root": str(store_root),
        "runtime_dir": str(Path(runtime) / "rootless-build"),
        "versions": {"rootless-build": __version__, "python": platform.python_version()},
        "problems": diagnose.diagnose(),
    }


if __name__ == "__main__" and sys.argv[1:2] == ["--probe"]:
    print(json.dumps(drivers.probe_all(Path(sys.argv[2]))))
