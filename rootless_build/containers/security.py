"""`run`'s security flags: --cap-add/--cap-drop, --privileged, --security-opt, --init.

Checked once, when the container is created (a seccomp profile FILE is read and compiled
then, and its text kept in the record, as docker keeps it in the container's spec); the
record's fields become a sandbox Hardening each time the container starts.
"""

from __future__ import annotations

import os
from pathlib import Path

from rootless_build.containers.record import RunConfig
from rootless_build.errors import SandboxError, UsageError
from rootless_build.sandbox import hardening

# catatonit: podman's init (docker's is tini); static, so it runs in any image.
INIT_BINARIES = ("/usr/libexec/podman/catatonit", "/usr/bin/catatonit")


def apply_options(config: RunConfig, cap_add: list[str], cap_drop: list[str], privileged: bool,
                  security_opt: list[str], init: bool) -> None:
    """Check the flags and record them in config; raises UsageError with one line."""
    config.cap_add, config.cap_drop = list(cap_add), list(cap_drop)
    config.privileged, config.init = privileged, init
    for option in security_opt:
        key, _, value = option.partition("=" if "=" in option else ":")   # docker takes both
        if key == "seccomp" and value:
            config.seccomp = "unconfined" if value == "unconfined" else _read_profile(value)
        elif key == "no-new-privileges" and value in ("", "true", "false"):
            config.no_new_privileges = value or "true"
        elif key in ("label", "apparmor") and value:
            pass        # no SELinux or AppArmor confinement here; accepted as podman does
        else:
            raise UsageError(f"--security-opt {option}: expected seccomp=unconfined|FILE "
                             "or no-new-privileges[=true|false]")
    if config.seccomp not in ("", "unconfined"):
        # a profile FILE that does not compile is refused now; the default one is ours and
        # compiles (compiling it here cost every `run` ~40 ms: the start compiles, cached)
        try:
            hardening.filter_for(hardening_of(config))
        except SandboxError as e:
            raise UsageError(f"--security-opt: {e}") from None
    if init:
        init_binary()


def _read_profile(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"--security-opt seccomp={path}: {getattr(e, 'strerror', None) or e}") from None


def hardening_of(config: RunConfig) -> hardening.Hardening:
    if config.privileged:
        base = hardening.PRIVILEGED
        caps = base.caps
    else:
        base = hardening.Hardening()
        caps = hardening.resolve_caps(config.cap_add, config.cap_drop)
    return hardening.Hardening(
        caps=caps,
        no_new_privs=config.no_new_privileges == "true" if config.no_new_privileges else base.no_new_privs,
        seccomp=config.seccomp or base.seccomp,
        mask_paths=base.mask_paths)


def init_binary() -> Path:
    for path in INIT_BINARIES:
        if os.access(path, os.X_OK):
            return Path(os.path.realpath(path))
    raise UsageError("--init: catatonit is not installed (Debian: apt-get install catatonit)")
