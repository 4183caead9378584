"""Seccomp profiles in moby's JSON format (docker's default ships as seccomp-default.json:
github.com/moby/profiles/seccomp/default.json as vendored by moby/moby b985e23, Apache-2.0),
compiled to a BPF program once per process and installed by the process that execs.

Conditions are honoured as moby's setupSeccomp does: `includes`/`excludes` on caps (the
bounding set the process gets), arches (GOARCH names) and minKernel; the archMap entry of
the native architecture adds its sub-architectures. Rules as runc adds them: a name no
architecture here knows is skipped, a rule whose action is the default one too, and
conditions on one argument more than once become one rule per condition.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import platform
from functools import lru_cache
from pathlib import Path

from rootless_build.errors import SandboxError
from rootless_build.sandbox import libseccomp as ls
from rootless_build.sandbox.owncache import read_own, write_own

DEFAULT = "default"
UNCONFINED = "unconfined"
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2

# platform.machine() -> (GOARCH name the profiles' "arches" use, libseccomp arch name)
_ARCHES = {"x86_64": ("amd64", "SCMP_ARCH_X86_64"), "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
           "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"), "s390x": ("s390x", "SCMP_ARCH_S390X"),
           "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"), "i686": ("x86", "SCMP_ARCH_X86"),
           "armv7l": ("arm", "SCMP_ARCH_ARM"), "loongarch64": ("loong64", "SCMP_ARCH_LOONGARCH64")}


def default_profile() -> str:
    # beside this module (package data); importlib.resources would cost more than the read
    with open(os.path.join(os.path.dirname(__file__), "seccomp-default.json"), encoding="utf-8") as f:
        return f.read()


_SIMPLE_ACTIONS = {"SCMP_ACT_ALLOW": ls.ACT_ALLOW, "SCMP_ACT_KILL": ls.ACT_KILL_THREAD,
                   "SCMP_ACT_KILL_THREAD": ls.ACT_KILL_THREAD, "SCMP_ACT_KILL_PROCESS": ls.ACT_KILL_PROCESS,
                   "SCMP_ACT_TRAP": ls.ACT_TRAP, "SCMP_ACT_LOG": ls.ACT_LOG}


def _action(name: object, errno_ret: object, default_errno: int) -> int:
    if name in _SIMPLE_ACTIONS:
        return _SIMPLE_ACTIONS[name]
    number = errno_ret if isinstance(errno_ret, int) else default_errno
    if name == "SCMP_ACT_ERRNO":
        return ls.ACT_ERRNO | (number & 0xFFFF)
    if name == "SCMP_ACT_TRACE":
        return ls.ACT_TRACE | (number & 0xFFFF)
    raise SandboxError(f"seccomp profile: unsupported action {name!r}")


def _kernel_at_least(text: str) -> bool:
    def version(release: str) -> tuple[int, int]:
        major, _, rest = release.partition(".")
        minor = "".join(c for c in rest.split(".")[0] if c.isdigit()) or "0"
        return int(major), int(minor)
    try:
        return version(os.uname().release) >= version(text)
    except ValueError:
        raise SandboxError(f"seccomp profile: bad minKernel {text!r}") from None


def _applies(call: dict, caps: frozenset[str], arch: str) -> bool:
    """moby's setupSeccomp: excludes first, then includes; every listed condition must hold."""
    excludes, includes = call.get("excludes") or {}, call.get("includes") or {}
    if arch in (excludes.get("arches") or ()) or caps & set(excludes.get("caps") or ()):
        return False
    if excludes.get("minKernel") and _kernel_at_least(excludes["minKernel"]):
        return False
    if includes.get("arches") and arch not in includes["arches"]:
        return False
    if not set(includes.get("caps") or ()) <= caps:
        return False
    return not includes.get("minKernel") or _kernel_at_least(includes["minKernel"])


def _conditions(call: dict) -> list[list[tuple[int, int, int, int]]]:
    """The argument conditions of one entry as rules (each a list of ArgCmp tuples)."""
    conds = []
    for arg in call.get("args") or ():
        op = ls.CMP.get(arg.get("op"))
        index = arg.get("index")
        if op is None or not isinstance(index, int) or not 0 <= index < 6:
            raise SandboxError(f"seccomp profile: bad argument condition {arg}")
        conds.append((index, op, int(arg.get("value", 0)), int(arg.get("valueTwo", 0))))
    if len({c[0] for c in conds}) != len(conds):
        return [[c] for c in conds]
    return [conds]


@lru_cache(maxsize=8)
def compile_profile(profile: str, caps: frozenset[str]) -> bytes:
    """The BPF program (struct sock_filter[]) for a profile's JSON text and a bounding set."""
    try:
        data = json.loads(profile)
        if not isinstance(data, dict) or not isinstance(data.get("syscalls", []), list):
            raise ValueError("not a profile object")
    except ValueError as e:
        raise SandboxError(f"seccomp profile: not valid JSON: {e}") from None
    goarch, native = _ARCHES.get(platform.machine(), ("", ""))
    errno_ret = data.get("defaultErrnoRet")
    default_errno = errno_ret if isinstance(errno_ret, int) else 1
    default = _action(data.get("defaultAction"), default_errno, 1)
    flt = ls.Filter(default)
    try:
        arches = list(data.get("architectures") or ())
        for entry in data.get("archMap") or ():
            if entry.get("architecture") == native:
                arches += [native, *(entry.get("subArchitectures") or ())]
        for name in arches:
            flt.add_arch(name.removeprefix("SCMP_ARCH_").lower())
        for call in data.get("syscalls") or ():
            if not isinstance(call, dict) or not _applies(call, caps, goarch):
                continue
            action = _action(call.get("action"), call.get("errnoRet"), default_errno)
            if action == default:
                continue
            names = call.get("names") or ([call["name"]] if call.get("name") else [])
            for name in names:
                number = flt.syscall(str(name))
                if number == ls.NR_SCMP_ERROR:
                    continue
                for rule in _conditions(call):
                    flt.add_rule(action, number, rule)
        return flt.bpf()
    except (TypeError, AttributeError, KeyError) as e:
        raise SandboxError(f"seccomp profile: malformed entry: {e}") from None
    finally:
        flt.release()


def user_cache_dir() -> Path:
    """Where compiled programs are kept: per user, beside the isolation probe's cache, not in
    the store, so a fresh store (every cold build) does not compile the profile again."""
    from rootless_build.sandbox.isolation import cache_dir

    return cache_dir() / "seccomp"


def compile_cached(profile: str, caps: frozenset[str], cache_dir: Path | None) -> bytes:
    """compile_profile, its result kept in cache_dir (~10-20 ms a container start saved):
    keyed by everything the program depends on, and checked against its digest on read."""
    if cache_dir is None:
        return compile_profile(profile, caps)
    key = hashlib.sha256("\0".join([profile, *sorted(caps), platform.machine(), os.uname().release,
                                     ls.version()]).encode()).hexdigest()
    path = cache_dir / f"{key}.bpf"
    data = read_own(path)
    if data is not None and len(data) > 32 and hashlib.sha256(data[32:]).digest() == data[:32]:
        return data[32:]
    bpf = compile_profile(profile, caps)
    try:
        write_own(path, hashlib.sha256(bpf).digest() + bpf)
    except OSError:
        pass                    # a cache that cannot be written costs a compile, nothing else
    return bpf


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(bpf: bytes) -> None:
    """Install the filter on this thread (needs no_new_privs or CAP_SYS_ADMIN); keep bpf
    alive until then. Run last before execve: the filter applies to every call after it."""
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"installing the seccomp filter: {os.strerror(err)}")
