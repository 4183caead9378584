"""`rootless-build info`: what this machine offers for rootless builds, as plain data."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

from rootless_build import __version__
from rootless_build.sandbox import diagnose, drivers, fuse_overlay, idmap


def _helper(name: str) -> dict:
    path = idmap.find_helper(name)
    return {"path": str(path) if path else None, "usable": bool(path and idmap.helper_usable(path))}


def _ranges(path: Path, user: str, uid: int) -> list[str]:
    return [f"{r.start}:{r.count}" for r in idmap.read_ranges(path, user, uid)]


def _driver_states(trials, plan) -> dict[str, str]:
    """Each driver -> "ok" or why not, from the best trial whose namespaces work."""
    usable = next((t for t in trials if t.enter is None and t.namespaces is None), None)
    if usable is not None:
        return {name: ("ok" if usable.drivers.get(name, "not tried") is None else usable.drivers.get(name, "not tried"))
                for name in drivers.DRIVERS}
    blocked = next((t.enter or t.namespaces for t in trials), "no namespace could be made")
    states = {name: f"needs mounts in a namespace of its own: {blocked}" for name in drivers.DRIVERS}
    if plan is not None and plan.isolation == "chroot":
        states["vfs"] = "ok (chroot isolation: each step copies its root)"
    return states


def machine_info(store_root: Path) -> dict:
    """Everything `rootless-build info` shows, as JSON-ready data (probes afresh, and caches
    the result for the builds that follow)."""
    from rootless_build.errors import SandboxError
    from rootless_build.sandbox import isolation
    from rootless_build.sandbox.probe import run_trials

    user, uid, gid = idmap.current_user()
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/rootless-build-{uid}"
    trials = run_trials(isolation._mappings(), store_root / "tmp", all_drivers=True)
    isolation._store(trials, store_root / "cache")
    try:
        plan = isolation._pick(trials, None, None)
        chosen = {"isolation": plan.isolation, "id_mapping": plan.mapping, "storage_driver": plan.driver,
                  "summary": plan.describe(), "costs": list(plan.notes)}
    except SandboxError as e:
        plan, chosen = None, {"error": str(e)}
    mapping = idmap.plan_mapping()
    # What limits this place matters only where the best (every id, namespaces, a
    # copy-on-write driver) is not what we get.
    best = plan is not None and plan.isolation != "chroot" and plan.mapping != "single" and plan.driver != "vfs"
    limits = [] if best else diagnose.limits(store_root)
    states = _driver_states(trials, plan)
    return {
        "user": {"name": user, "uid": uid, "gid": gid,
                 "subuid": _ranges(idmap.SUBUID, user, uid), "subgid": _ranges(idmap.SUBGID, user, uid),
                 "id_mapping": "single id" if (mapping.single and uid != 0) or (plan and plan.mapping == "single")
                 else "full"},
        "helpers": {"newuidmap": _helper("newuidmap"), "newgidmap": _helper("newgidmap")},
        "kernel": platform.release(),
        "in_container": diagnose.in_container(),
        "isolation": chosen,
        "candidates": {t.mapping: {"enter": t.enter or "ok", "namespaces": t.namespaces or "ok",
                                   "mount_namespace": t.mount_ns or "ok", "chroot": t.chroot or "ok"}
                       for t in trials},
        "storage_drivers": states,
        "default_driver": plan.driver if plan else None,
        "fuse_overlayfs": {"path": fuse_overlay.find_binary(), "version": fuse_overlay.version(),
                           "dev_fuse": os.access("/dev/fuse", os.R_OK | os.W_OK)},
        "store_root": str(store_root),
        "runtime_dir": str(Path(runtime) / "rootless-build"),
        "versions": {"rootless-build": __version__, "python": platform.python_version()},
        "limits": [f"{limit}; lifted by: {fix}" for limit, fix in limits],
        "problems": diagnose.diagnose() + [f"{limit}; fix: {fix}" for limit, fix in limits],
    }


if __name__ == "__main__" and sys.argv[1:2] == ["--probe"]:
    print(json.dumps(drivers.probe_all(Path(sys.argv[2]))))
