"""The choice among probed candidates (sandbox.isolation._pick): pure data in, plan out."""

from __future__ import annotations

import os

import pytest

from rootless_build.errors import SandboxError
from rootless_build.sandbox.isolation import Plan, _pick
from rootless_build.sandbox.probe import Trial

OK = None


def trial(mapping, enter=OK, namespaces=OK, mount_ns=OK, chroot=OK, drivers=None):
    return Trial(mapping, enter, namespaces, mount_ns, chroot,
                 {"overlay": OK} if drivers is None else drivers)


def test_full_ids_with_namespaces_come_first():
    plan = _pick([trial("full"), trial("single")], None, None)
    assert (plan.mapping, plan.driver, plan.notes) == ("full", "overlay", ())
    assert plan.isolation == ("rootless" if os.getuid() == 0 else "oci")


def test_namespaces_with_a_single_id_before_chroot_and_said_so():
    refused = "newuidmap: write to uid_map failed: Operation not permitted"
    plan = _pick([trial("full", enter=refused), trial("single")], None, None)
    assert plan.mapping == "single" and plan.isolation != "chroot"
    assert "chown fails" in plan.notes[0]


def test_chroot_prefers_every_id_then_a_place_that_may_mount():
    no_ns = "mounting a new /proc: fsmount: Operation not permitted"
    trials = [trial("host", namespaces="unshare: Operation not permitted", mount_ns="EPERM", drivers={}),
              trial("full", namespaces=no_ns, drivers={})]
    plan = _pick(trials, None, None)
    assert (plan.isolation, plan.mapping, plan.driver, plan.chroot_mounts) == ("chroot", "full", "vfs", True)
    bare = _pick(trials[:1], None, None)
    assert not bare.chroot_mounts and any("no /proc" in n for n in bare.notes)


def test_forced_choices_are_checked_against_what_works():
    trials = [trial("full", drivers={"overlay": "EPERM", "fuse-overlayfs": OK})]
    assert _pick(trials, None, None).driver == "fuse-overlayfs"
    assert _pick(trials, "chroot", None).isolation == "chroot"
    assert _pick(trials, None, "vfs").driver == "vfs"
    with pytest.raises(SandboxError, match="with --storage-driver overlay"):
        _pick(trials, None, "overlay")


def test_nothing_works_is_one_line_naming_each_candidate_and_the_fix():
    trials = [trial("full", enter="cannot create a user namespace: unshare: Operation not permitted"),
              trial("single", enter="cannot create a user namespace: unshare: Operation not permitted")]
    with pytest.raises(SandboxError) as e:
        _pick(trials, None, None)
    message = str(e.value)
    assert "\n" not in message and message.startswith("RUN steps cannot be isolated here")
    assert "user namespace (single id): cannot create" in message and "--user 0" in message


def test_a_plan_survives_the_environment():
    plan = Plan("chroot", "single", "vfs", chroot_mounts=False, notes=("a", "b"))
    assert Plan.from_json(plan.to_json()) == plan


def test_the_driver_follows_preference_not_the_cached_key_order():
    """The probe cache is JSON with sorted keys: fuse-overlayfs sorts before overlay. Kernel
    overlay must still win when both work (fuse-overlayfs made a 20,000-file RUN 3x slower)."""

    every = {"fuse-overlayfs": OK, "overlay": OK, "vfs": OK}
    assert _pick([trial("full", drivers=every)], None, None).driver == "overlay"
    assert _pick([trial("full", drivers={"fuse-overlayfs": OK, "overlay": "no", "vfs": OK})],
                 None, None).driver == "fuse-overlayfs"


def test_a_cached_probe_keeps_kernel_overlay(tmp_path, monkeypatch):
    from rootless_build.sandbox.isolation import _store, cached_trials

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _store([trial("full", drivers={"overlay": OK, "fuse-overlayfs": OK, "vfs": OK})])
    assert _pick(cached_trials() or [], None, None).driver == "overlay"


def test_a_probe_answer_others_could_write_is_not_trusted(tmp_path, monkeypatch):
    """A shared XDG_CACHE_HOME must not let another user force a weaker isolation."""
    from rootless_build.sandbox.isolation import _cache_files, _store, cached_trials

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _store([trial("full", drivers={"overlay": OK})])
    assert cached_trials() is not None
    (path,) = _cache_files(None)
    os.chmod(path.parent, 0o777)
    assert cached_trials() is None
    os.chmod(path.parent, 0o700)
    os.chmod(path, 0o666)
    assert cached_trials() is None
