"""Which isolation and storage driver RUN steps and containers get here, found by trying.

Candidates, best first (`choose`):
  - oci: namespaces (mount, pid, uts, ipc) and pivot_root, as runc does; for an unprivileged
    user inside a user namespace with the full subordinate range, else with a single id
    (only the user mapped; chown to other ids fails). Real root needs no user namespace.
  - rootless: the same, always inside a user namespace (root of a container that may not
    mount in its own namespace but may create a user namespace and mount in there).
  - chroot: no namespace but (when allowed) a mount namespace; the step is chrooted into a
    full copy of its root (vfs) with /proc, /dev and /sys bound in when mounting is
    allowed. For a process that is root (of the container, or of a user namespace it could
    create) and may neither create namespaces nor mount (seccomp, no CAP_SYS_ADMIN).
Storage, within oci/rootless: overlay, then fuse-overlayfs, then vfs (sandbox.drivers).

The probe forks, tries each candidate in a child and is cached per user and environment
(uid, kernel, boot, id maps, capabilities, seccomp mode, /dev/fuse, subordinate ids,
helpers), in $XDG_CACHE_HOME/rootless-build/ (not in the store). A cached build never
gets here: only a RUN that executes (or a container that starts) asks.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from rootless_build.errors import SandboxError, UsageError
from rootless_build.sandbox.drivers import DRIVERS
from rootless_build.sandbox.owncache import read_own, write_own
from rootless_build.sandbox.probe import Trial

if TYPE_CHECKING:
    from rootless_build.sandbox.idmap import IdMapping

ISOLATIONS = ("oci", "rootless", "chroot")
PLAN_ENV = "_ROOTLESS_BUILD_PLAN"     # the plan handed to a process re-executed in the namespace
CACHE_VERSION = 1


@dataclass(frozen=True)
class Plan:
    isolation: str              # oci | rootless | chroot
    mapping: str                # host (no user namespace) | full | single
    driver: str                 # overlay | fuse-overlayfs | vfs
    chroot_mounts: bool = True  # chroot: a mount namespace with /proc, /dev, /sys bound in
    notes: tuple[str, ...] = ()  # what this place cannot give (said once per build)

    @property
    def userns(self) -> bool:
        return self.mapping != "host"

    def describe(self) -> str:
        ids = {"host": "no user namespace", "full": "user namespace with the subordinate ids",
               "single": "user namespace with a single id"}[self.mapping]
        return f"isolation {self.isolation} ({ids}), storage driver {self.driver}"

    def id_mapping(self) -> IdMapping:
        """The id maps a user namespace of this plan gets."""
        from rootless_build.sandbox import idmap

        return idmap.plan_mapping(single=self.mapping == "single")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        return cls(data["isolation"], data["mapping"], data["driver"], bool(data.get("chroot_mounts", True)),
                   tuple(data.get("notes", ())))


def check_isolation(name: str) -> str:
    if name not in ISOLATIONS:
        raise UsageError(f"unknown isolation {name!r}: choose one of {', '.join(ISOLATIONS)}")
    return name


# --- the environment key -------------------------------------------------------------------

def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(65536).decode(errors="replace")
    except OSError:
        return ""


def _status_lines() -> str:
    wanted = ("CapEff", "CapBnd", "Seccomp:", "NoNewPrivs")
    return "\n".join(line for line in _read("/proc/self/status").splitlines() if line.startswith(wanted))


def _stat_key(path: str) -> str:
    try:
        st = os.stat(path)
        return f"{st.st_mode}:{st.st_uid}:{st.st_mtime_ns}"
    except OSError:
        return "-"


def environment_key() -> str:
    """Everything the probe's answer depends on, hashed (cheap: a few small reads)."""
    parts = [str(CACHE_VERSION), str(os.getuid()), platform.release(), _read("/proc/sys/kernel/random/boot_id"),
             _read("/proc/self/uid_map"), _read("/proc/self/gid_map"), _status_lines(),
             _stat_key("/dev/fuse"), _stat_key("/etc/subuid"), _stat_key("/etc/subgid"),
             _stat_key("/usr/bin/newuidmap"), _stat_key("/usr/bin/fuse-overlayfs"),
             _read("/proc/sys/user/max_user_namespaces"),
             _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rootless-build"


def _cache_files(shared: Path | None) -> list[Path]:
    """The user's cache, then (when given) the store's: a CI container starts with an empty
    home each job, while its store is a volume kept from one job to the next."""
    name = f"probe-{environment_key()}.json"
    return [cache_dir() / name] + ([shared / name] if shared is not None else [])


# --- choosing ------------------------------------------------------------------------------

def _mappings() -> list[str]:
    return ["host", "full"] if os.getuid() == 0 else ["full", "single"]


def _single_note(trial: Trial, trials: list[Trial]) -> list[str]:
    """For a single-id plan: what it limits, why the subordinate ids could not be had, the fix."""
    if trial.mapping != "single":
        return []
    why = next((t.enter for t in trials if t.mapping == "full" and t.enter), "") or ""
    if "newuidmap" in why or "newgidmap" in why:
        from rootless_build.sandbox.diagnose import single_id_hint

        why = f"{why}; {single_id_hint()}"
    return ["only your own id is mapped (as root) in the user namespace, so files cannot be owned "
            "by other users (chown fails)" + (f": {why}" if why else "")]


def _pick(trials: list[Trial], isolation: str | None, driver: str | None) -> Plan:
    """The best plan the trials allow (given what the user forced), or SandboxError: first
    namespaces (full ids, then a single id), then chroot."""
    entered = [t for t in trials if t.enter is None]
    if isolation in (None, "oci", "rootless"):
        for trial in entered:
            if trial.namespaces is not None or (isolation == "rootless" and trial.mapping == "host"):
                continue
            # in preference order, never the dict's: a cached trial comes back with sorted keys
            chosen = driver or next((n for n in DRIVERS if n in trial.drivers and trial.drivers[n] is None), None)
            if chosen is not None and (driver is None or trial.drivers.get(driver, "x") is None
                                       or driver not in trial.drivers):
                iso = isolation or ("rootless" if trial.mapping != "host" and os.getuid() == 0 else "oci")
                return Plan(iso, trial.mapping, chosen, notes=tuple(_single_note(trial, trials)))
    if isolation in (None, "chroot") and driver in (None, "vfs"):
        # Every id first, then a mount namespace (/proc, /dev bound in): root of a pod that
        # may not mount may still mount in a user namespace of its own.
        for trial in sorted(entered, key=lambda t: (t.mapping == "single", t.mount_ns is not None)):
            if trial.chroot is not None:
                continue
            notes = _single_note(trial, trials)
            mounts = trial.mount_ns is None
            if not mounts:
                notes.append("mounting is not allowed here: RUN steps get no /proc, /dev or /sys of "
                             "their own and no RUN --mount")
            notes.append("chroot isolation: RUN steps share this container's process, network and "
                         "IPC namespaces; every step copies its root (vfs)")
            return Plan("chroot", trial.mapping, "vfs", chroot_mounts=mounts, notes=tuple(notes))
    raise SandboxError(nothing_works(trials, isolation, driver))


def nothing_works(trials: list[Trial], isolation: str | None, driver: str | None) -> str:
    from rootless_build.sandbox.diagnose import blockers_line

    forced = ", ".join(f for f in (isolation and f"--isolation {isolation}",
                                   driver and f"--storage-driver {driver}") if f)
    return (f"RUN steps cannot be isolated here{' with ' + forced if forced else ''}: "
            f"{blockers_line(trials)}")


def probe_trials(scratch: Path) -> list[Trial]:
    from rootless_build.sandbox.probe import run_trials

    return run_trials(_mappings(), scratch)


def handed_plan() -> Plan | None:
    """The plan chosen by the process that entered the namespace (or by this one)."""
    handed = os.environ.get(PLAN_ENV)
    if handed:
        try:
            return Plan.from_json(handed)
        except (ValueError, KeyError):
            pass
    return None


def choose(scratch: Path, isolation: str | None = None, driver: str | None = None, *,
           refresh: bool = False, shared_cache: Path | None = None) -> Plan:
    """The plan for this user here: handed down by the process that chose it (through the
    environment, to a process re-executed in the namespace), read from the cache (the
    user's, then `shared_cache`, the store's cache dir), or probed (and cached in both).
    Forced choices are checked against what works."""
    plan = handed_plan()
    if plan is not None:
        return plan
    trials = None if refresh else cached_trials(shared_cache)
    if trials is None:
        trials = probe_trials(scratch)
        _store(trials, shared_cache)
    plan = _pick(trials, isolation, driver)
    os.environ[PLAN_ENV] = plan.to_json()
    return plan


def cached_trials(shared: Path | None = None) -> list[Trial] | None:
    for path in _cache_files(shared):
        try:
            data = json.loads(read_own(path) or b"")
            return [Trial(**t) for t in data["trials"]]
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def _store(trials: list[Trial], shared: Path | None = None) -> None:
    text = json.dumps({"trials": [asdict(t) for t in trials]}, sort_keys=True)
    for path in _cache_files(shared):
        try:
            write_own(path, text.encode())
        except OSError:
            pass        # only a cache: the next command probes again


def enter(plan: Plan, warn: Callable[[str], None] | None) -> bool:
    """Enter the plan's user namespace in this process (when it has one and we are not in it
    yet). False when that must happen by re-executing (another thread runs)."""
    from rootless_build.sandbox.userns import enter_here, in_userns

    if not plan.userns or in_userns():
        return True
    return enter_here(warn=warn, mapping=plan.id_mapping())


def reexec(argv: list[str], stdin: IO | None = None) -> int:
    """Run `rootless-build ARGV` again as root of the user namespace, with the mapping of
    the plan chosen by now (handed down in the environment), when enter() could not go in
    in place; stdin replaced when given. Its notes were said already: no warning."""
    from rootless_build.sandbox.idmap import plan_mapping
    from rootless_build.sandbox.userns import reexec_in_userns

    plan = handed_plan()
    mapping = plan.id_mapping() if plan is not None else plan_mapping()
    return reexec_in_userns(argv, stdin=stdin, mapping=mapping, warn=None)
