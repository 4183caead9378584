"""Docker's defaults as data: the capability set and --cap-add/--cap-drop, and the
conditions of moby's seccomp profile (caps, arches, minKernel) honoured as moby does."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from rootless_build.errors import SandboxError, UsageError
from rootless_build.sandbox import hardening, seccomp


def _mask(caps) -> str:
    return f"{sum(1 << hardening.CAPS.index(c) for c in caps):016x}"


def test_default_set_is_dockers() -> None:
    assert _mask(hardening.DEFAULT_CAPS) == "00000000a80425fb"


@pytest.mark.parametrize("add,drop,expected", [
    ([], [], hardening.DEFAULT_CAPS),
    (["NET_ADMIN"], ["CHOWN"], tuple(c for c in hardening.CAPS
                                      if c in set(hardening.DEFAULT_CAPS) - {"CHOWN"} | {"NET_ADMIN"})),
    (["cap_chown"], ["ALL"], ("CHOWN",)),
    (["ALL"], [], hardening.CAPS),
    ([], ["all"], ()),
], ids=["default", "add-and-drop", "drop-all-add-one", "add-all", "drop-all"])
def test_cap_add_and_drop(add, drop, expected) -> None:
    assert hardening.resolve_caps(add, drop) == expected


def test_unknown_capability_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="NOPE"):
        hardening.resolve_caps(["NOPE"], [])


def _profile() -> dict:
    return json.loads(seccomp.default_profile())


def _sys_admin_entry() -> dict:
    return next(c for c in _profile()["syscalls"] if c.get("includes", {}).get("caps") == ["CAP_SYS_ADMIN"])


def test_profile_conditions_on_caps_arch_and_kernel() -> None:
    caps = frozenset(f"CAP_{c}" for c in hardening.DEFAULT_CAPS)
    sys_admin = _sys_admin_entry()      # the CAP_SYS_ADMIN group (mount, unshare, setns...)
    assert "unshare" in sys_admin["names"]
    assert not seccomp._applies(sys_admin, caps, "amd64")
    assert seccomp._applies(sys_admin, caps | {"CAP_SYS_ADMIN"}, "amd64")
    arch_only = {"includes": {"arches": ["amd64", "x32"]}}
    assert seccomp._applies(arch_only, caps, "amd64") and not seccomp._applies(arch_only, caps, "arm64")
    excluded = {"excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390x"]}}
    assert seccomp._applies(excluded, caps, "amd64")
    assert not seccomp._applies(excluded, caps | {"CAP_SYS_ADMIN"}, "amd64")
    major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    assert seccomp._applies({"includes": {"minKernel": f"{major}.{minor}"}}, caps, "amd64")
    assert not seccomp._applies({"includes": {"minKernel": f"{major + 1}.0"}}, caps, "amd64")
    assert not seccomp._applies({"excludes": {"minKernel": "3.0"}}, caps, "amd64")


def test_default_profile_compiles_and_grows_with_sys_admin() -> None:
    caps = frozenset(f"CAP_{c}" for c in hardening.DEFAULT_CAPS)
    default = seccomp.compile_profile(seccomp.default_profile(), caps)
    assert default and len(default) % 8 == 0           # struct sock_filter[]
    wider = seccomp.compile_profile(seccomp.default_profile(), caps | {"CAP_SYS_ADMIN"})
    assert wider != default
    assert seccomp.compile_profile(seccomp.default_profile(), caps) is default   # once per process


@pytest.mark.parametrize("text", ["{", "[]", '{"defaultAction": "SCMP_ACT_BOGUS"}',
                                  '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], '
                                  '"action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "op": "SCMP_CMP_EQ"}]}]}'],
                         ids=["truncated", "array", "bad-action", "bad-arg-index"])
def test_bad_profiles_are_refused_in_one_line(text) -> None:
    with pytest.raises(SandboxError) as info:
        seccomp.compile_profile(text, frozenset())
    assert "\n" not in str(info.value) and "seccomp profile" in str(info.value)


def test_compiled_programs_are_kept_and_checked(tmp_path) -> None:
    caps = frozenset(f"CAP_{c}" for c in hardening.DEFAULT_CAPS)
    profile = seccomp.default_profile()
    first = seccomp.compile_cached(profile, caps, tmp_path)
    (kept,) = tmp_path.iterdir()
    assert kept.read_bytes()[32:] == first == seccomp.compile_profile(profile, caps)
    kept.write_bytes(kept.read_bytes()[:-8])          # truncated: not trusted, compiled again
    assert seccomp.compile_cached(profile, caps, tmp_path) == first
    assert kept.read_bytes()[32:] == first
    other = seccomp.compile_cached(profile, caps | {"CAP_SYS_ADMIN"}, tmp_path)
    assert other != first and len(list(tmp_path.iterdir())) == 2


def test_a_kept_program_writable_by_others_is_not_trusted(tmp_path) -> None:
    """The digest catches damage only: a program in a directory or file others may write
    (XDG_CACHE_HOME on a shared place) is compiled again and replaced, never installed."""
    caps = frozenset(f"CAP_{c}" for c in hardening.DEFAULT_CAPS)
    profile = seccomp.default_profile()
    good = seccomp.compile_cached(profile, caps, tmp_path / "sc")
    (kept,) = (tmp_path / "sc").iterdir()
    assert (tmp_path / "sc").stat().st_mode & 0o777 == 0o700
    planted = seccomp.compile_profile('{"defaultAction": "SCMP_ACT_ALLOW"}', caps)
    kept.write_bytes(hashlib.sha256(planted).digest() + planted)     # well formed, and weaker
    assert seccomp.compile_cached(profile, caps, tmp_path / "sc") == planted    # ours: trusted
    kept.chmod(0o666)
    assert seccomp.compile_cached(profile, caps, tmp_path / "sc") == good
    assert kept.read_bytes()[32:] == good                                       # replaced
    kept.write_bytes(hashlib.sha256(planted).digest() + planted)
    kept.chmod(0o644)
    (tmp_path / "sc").chmod(0o777)
    assert seccomp.compile_cached(profile, caps, tmp_path / "sc") == good
