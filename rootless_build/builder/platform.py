"""The build and target platforms, the ARGs Docker predefines from them, and whether RUN
can execute a foreign architecture's binaries (qemu-user through binfmt_misc)."""

from __future__ import annotations

import os

from rootless_build.errors import UsageError
from rootless_build.oci import platform as platforms

# Docker passes these through to RUN without declaring them, and keeps them out of history.
PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
              "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")
BINFMT_DIR = "/proc/sys/fs/binfmt_misc"
# GOARCH -> the name qemu-user (and its binfmt_misc entry) gives the architecture
_QEMU_NAMES = {"arm64": "aarch64", "arm": "arm", "386": "i386", "amd64": "x86_64", "ppc64le": "ppc64le",
               "ppc64": "ppc64", "s390x": "s390x", "riscv64": "riscv64", "mips64le": "mips64el",
               "mips64": "mips64", "mipsle": "mipsel", "mips": "mips", "loong64": "loongarch64"}
# Architectures this host runs without emulation.
_NATIVE = {"amd64": ("amd64", "386"), "arm64": ("arm64",), "ppc64le": ("ppc64le",), "s390x": ("s390x",)}


def host_platform() -> tuple[str, str, str]:
    host = platforms.host()
    return host.os, host.architecture, host.variant or ""


def format_platform(os_name: str, arch: str, variant: str) -> str:
    return f"{os_name}/{arch}" + (f"/{variant}" if variant else "")


def parse_platforms(text: str | None) -> list[str]:
    """`--platform a,b`: each one checked, duplicates refused, in the order given."""
    if not text:
        return []
    wanted = [part.strip() for part in text.split(",")]
    seen: set[tuple[str, str, str]] = set()
    for part in wanted:
        target = check_platform(part)
        if target in seen:
            raise UsageError(f"--platform {text}: {part} is given twice")
        seen.add(target)
    return wanted


def check_platform(requested: str | None) -> tuple[str, str, str]:
    """The target platform as (os, arch, variant): the host's when none is asked for. Any
    Linux platform can be built; RUN needs emulation for a foreign one (require_runnable)."""
    host = host_platform()
    if not requested:
        return host
    parts = requested.strip().lower().split("/")
    if len(parts) < 2 or len(parts) > 3 or not all(parts):
        raise UsageError(f"invalid platform {requested!r}: expected os/arch[/variant]")
    if parts[0] != "linux":
        raise UsageError(f"platform {requested}: only linux images can be built")
    wanted = (parts[0], parts[1], parts[2] if len(parts) == 3 else "")
    if wanted[1] == host[1] and wanted[2] in ("", host[2]):
        return host
    return wanted


def require_runnable(arch: str) -> None:
    """Before a RUN in an image of `arch`: fine natively, or through a qemu interpreter
    registered with binfmt_misc's F flag (opened at registration, so it works inside the
    user namespace and the step's root, where its path does not exist); else a one-line
    error saying how to register one."""
    host = host_platform()[1]
    if not arch or arch in _NATIVE.get(host, (host,)):
        return
    name = _QEMU_NAMES.get(arch, arch)
    flags = registered_flags(name)
    if flags is not None and "F" in flags:
        return
    how = ("run (as root) `update-binfmts --enable qemu-" + name + "` (Debian: apt-get install qemu-user-static "
           "binfmt-support)") if flags is None else (
        f"qemu-{name} is registered without the F flag; register it again with flags F (qemu-user-static does)")
    raise UsageError(f"RUN for {arch} needs an emulator and none is registered in {BINFMT_DIR}: {how}")


def registered_flags(qemu_name: str) -> str | None:
    """The flags of an enabled binfmt_misc entry for qemu-<name>, or None."""
    try:
        with open(os.path.join(BINFMT_DIR, f"qemu-{qemu_name}")) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    if not lines or lines[0].strip() != "enabled":
        return None
    for line in lines:
        if line.startswith("flags:"):
            return line.partition(":")[2].strip()
    return ""


def predefined_args(target: tuple[str, str, str]) -> dict[str, str]:
    build = host_platform()
    return {
        "TARGETPLATFORM": format_platform(*target), "TARGETOS": target[0], "TARGETARCH": target[1],
        "TARGETVARIANT": target[2],
        "BUILDPLATFORM": format_platform(*build), "BUILDOS": build[0], "BUILDARCH": build[1],
        "BUILDVARIANT": build[2],
    }
