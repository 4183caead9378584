"""The few libseccomp calls a profile needs, through ctypes on libseccomp.so.2.

Loaded by its soname: pyseccomp (the PyPI binding) runs ctypes.util.find_library at import,
which spawns ldconfig and gcc (~18 ms per container start); Debian's python3-seccomp is not
visible from the virtualenv. Only the process that compiles a filter loads this module.
"""

from __future__ import annotations

import ctypes
import os

from rootless_build.errors import SandboxError

ACT_KILL_PROCESS = 0x80000000
ACT_KILL_THREAD = 0x00000000
ACT_TRAP = 0x00030000
ACT_ERRNO = 0x00050000
ACT_TRACE = 0x7FF00000
ACT_LOG = 0x7FFC0000
ACT_ALLOW = 0x7FFF0000
ACT_NOTIFY = 0x7FC00000

# enum scmp_compare
CMP = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
       "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
NR_SCMP_ERROR = -1
FLTATR_CTL_NNP = 3          # libseccomp must not set no_new_privs itself: we decide


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


def version() -> str:
    v = lib().seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def _load() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        raise SandboxError("libseccomp.so.2 is not installed (Debian: libseccomp2); "
                           "or run with --security-opt seccomp=unconfined") from None
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.restype = None
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    return lib


_lib: ctypes.CDLL | None = None


def lib() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        _lib = _load()
    return _lib


class Filter:
    """A filter being built; bpf() gives the compiled program (struct sock_filter[])."""

    def __init__(self, default_action: int):
        self.ctx = lib().seccomp_init(default_action)
        if not self.ctx:
            raise SandboxError("seccomp: cannot create a filter")
        self._check(lib().seccomp_attr_set(self.ctx, FLTATR_CTL_NNP, 0), "setting its attributes")

    def _check(self, rc: int, what: str) -> None:
        if rc < 0:
            raise SandboxError(f"seccomp: {what}: {os.strerror(-rc)}")

    def add_arch(self, name: str) -> None:
        token = lib().seccomp_arch_resolve_name(name.encode())
        if token == 0:
            return                  # an architecture this libseccomp does not know
        rc = lib().seccomp_arch_add(self.ctx, token)
        if rc != -17:               # EEXIST: the native one is there from the start
            self._check(rc, f"adding architecture {name}")

    @staticmethod
    def syscall(name: str) -> int:
        """The native number, or NR_SCMP_ERROR for a name no architecture here knows."""
        return lib().seccomp_syscall_resolve_name(name.encode())

    def add_rule(self, action: int, number: int, args: list[tuple[int, int, int, int]]) -> None:
        array = (ArgCmp * max(1, len(args)))(*(ArgCmp(*a) for a in args))
        self._check(lib().seccomp_rule_add_array(self.ctx, action, number, len(args), array),
                    f"adding a rule for syscall {number}")

    def bpf(self) -> bytes:
        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            self._check(lib().seccomp_export_bpf(self.ctx, fd), "exporting the filter")
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def release(self) -> None:
        if self.ctx:
            lib().seccomp_release(self.ctx)
            self.ctx = None
