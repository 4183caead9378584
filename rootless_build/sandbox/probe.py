"""The probe behind sandbox.isolation: each candidate tried for real in forked children.

For each id mapping (none for root, the subordinate range, a single id) a child enters the
user namespace as a build would, then tries, each in a child of its own so nothing stays:
a mount namespace with a bind mount; the step's namespaces (mount, pid, uts, ipc) with a
fresh /proc and a clone of /sys, as the step's pid 1 mounts them; chroot; and, when the
namespaces work, each storage driver (sandbox.drivers.probe).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rootless_build.sandbox import drivers, libc
from rootless_build.sandbox.forktry import describe, in_fork


@dataclass
class Trial:
    """What one candidate user namespace set-up gave, as the probe child saw it."""

    mapping: str
    enter: str | None = None                # None: entered (or none needed), else why not
    namespaces: str | None = "not tried"    # None: mount/pid/uts/ipc namespaces + /proc work
    mount_ns: str | None = "not tried"      # None: a mount namespace and bind mounts work
    chroot: str | None = "not tried"        # None: chroot works
    drivers: dict[str, str | None] = field(default_factory=dict)


def _step(what: str, fn: Callable[[], object]) -> None:
    try:
        fn()
    except OSError as e:
        raise OSError(e.errno, f"{what}: {e.strerror}") from None


def _private_mount_ns() -> None:
    _step("unshare(CLONE_NEWNS)", lambda: libc.unshare(libc.CLONE_NEWNS))
    _step("mount", lambda: libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE))


def _try_mount_ns(scratch: Path) -> None:
    _private_mount_ns()
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        target = Path(tmp) / "t"
        target.mkdir()
        _step("bind mount", lambda: libc.mount(tmp, target, None, libc.MS_BIND))
        libc.umount2(target, libc.MNT_DETACH)


def _fresh_proc() -> None:
    def mount_proc() -> None:
        fs = libc.fsopen("proc")
        try:
            libc.fsconfig_create(fs)
            os.close(libc.fsmount(fs, libc.MOUNT_ATTR_NOSUID | libc.MOUNT_ATTR_NODEV | libc.MOUNT_ATTR_NOEXEC))
        finally:
            os.close(fs)

    _step("mounting a new /proc", mount_proc)
    _step("cloning /sys", lambda: os.close(libc.open_tree_clone("/sys", recursive=True)))


def _try_namespaces() -> None:
    _private_mount_ns()
    _step("unshare(CLONE_NEWPID|CLONE_NEWUTS|CLONE_NEWIPC)",
          lambda: libc.unshare(libc.CLONE_NEWPID | libc.CLONE_NEWUTS | libc.CLONE_NEWIPC))
    error = in_fork(_fresh_proc)        # the new pid namespace's first process, as the step's pid 1
    if error:
        raise OSError(0, error)


def _try_chroot() -> None:
    _step("chroot", lambda: os.chroot("/"))


def _trial(mapping: str, scratch: Path, all_drivers: bool) -> Trial:
    """Runs in a child: enter the namespace, then try each thing in a child of its own."""
    from rootless_build.sandbox import idmap
    from rootless_build.sandbox.userns import enter_here

    trial = Trial(mapping)
    if mapping == "full" and os.getuid() != 0:
        planned = idmap.plan_mapping()
        if not planned.use_helpers:     # no range or no helpers: "full" would be one id
            trial.enter = planned.warning.split(": ", 1)[-1]
            return trial
    if mapping != "host":
        try:
            if not enter_here(warn=None, mapping=idmap.plan_mapping(single=mapping == "single")):
                trial.enter = "another thread runs: cannot unshare in place"
        except Exception as e:  # noqa: BLE001 - the reason is the result
            trial.enter = describe(e)
        if trial.enter is not None:
            return trial
    trial.mount_ns = in_fork(lambda: _try_mount_ns(scratch))
    trial.namespaces = trial.mount_ns if trial.mount_ns else in_fork(_try_namespaces)
    trial.chroot = in_fork(_try_chroot)
    if trial.namespaces is None:
        for name in drivers.DRIVERS:
            trial.drivers[name] = drivers.probe(name, scratch)
            if trial.drivers[name] is None and not all_drivers:
                break
    return trial


def run_trials(mappings: list[str], scratch: Path, all_drivers: bool = False) -> list[Trial]:
    """Each mapping's Trial, each probed in a child of its own (namespaces stay there). Stops
    at the first that runs steps in namespaces with a driver, unless all_drivers (`info`)."""
    scratch.mkdir(parents=True, exist_ok=True)
    trials = []
    for mapping in mappings:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                text = json.dumps(asdict(_trial(mapping, scratch, all_drivers)))
            except BaseException as e:  # noqa: BLE001
                text = json.dumps(asdict(Trial(mapping, enter=f"probe failed: {describe(e)}")))
            with os.fdopen(w, "w") as out:
                out.write(text)
            os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            text = f.read()
        os.waitpid(pid, 0)
        try:
            trials.append(Trial(**json.loads(text)))
        except (ValueError, TypeError):
            trials.append(Trial(mapping, enter="probe process ended without an answer"))
        last = trials[-1]
        if not all_drivers and last.namespaces is None and None in last.drivers.values():
            break
    return trials
