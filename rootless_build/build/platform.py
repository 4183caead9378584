"""The build and target platform, and the ARGs Docker predefines from them."""

from __future__ import annotations

from rootless_build.errors import UsageError
from rootless_build.oci import platform as platforms

# Docker passes these through to RUN without declaring them, and keeps them out of history.
PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
              "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


def host_platform() -> tuple[str, str, str]:
    host = platforms.host()
    return host.os, host.architecture, host.variant or ""


def format_platform(os_name: str, arch: str, variant: str) -> str:
    return f"{os_name}/{arch}" + (f"/{variant}" if variant else "")


def check_platform(requested: str | None) -> tuple[str, str, str]:
    """The target platform: only the host's can be built (RUN executes natively)."""
    host = host_platform()
    if not requested:
        return host
    parts = requested.lower().split("/")
    if len(parts) < 2 or len(parts) > 3:
        raise UsageError(f"invalid platform {requested!r}: expected os/arch[/variant]")
    wanted = (parts[0], parts[1], parts[2] if len(parts) == 3 else "")
    host_variant_ok = wanted[2] in ("", host[2])
    if wanted[:2] != host[:2] or not host_variant_ok:
        raise UsageError(f"platform {requested} cannot be built on this {format_platform(*host)} host "
                         "(no emulation): use --platform " + format_platform(*host))
    return host


def predefined_args(target: tuple[str, str, str]) -> dict[str, str]:
    build = host_platform()
    return {
        "TARGETPLATFORM": format_platform(*target), "TARGETOS": target[0], "TARGETARCH": target[1],
        "TARGETVARIANT": target[2],
        "BUILDPLATFORM": format_platform(*build), "BUILDOS": build[0], "BUILDARCH": build[1],
        "BUILDVARIANT": build[2],
    }
