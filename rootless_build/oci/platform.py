"""Platforms: the host's, parsing OS/ARCH[/VARIANT], and which image of an index to take."""

from __future__ import annotations

import os as _os
from typing import TYPE_CHECKING

from rootless_build.errors import RegistryError, UsageError
from rootless_build.record import Record

if TYPE_CHECKING:  # the build path must not load pydantic
    from rootless_build.oci.models import Descriptor, Index

_MACHINE_TO_ARCH = {
    "x86_64": ("amd64", None), "amd64": ("amd64", None), "aarch64": ("arm64", None), "arm64": ("arm64", None),
    "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"), "i686": ("386", None), "i386": ("386", None),
    "ppc64le": ("ppc64le", None), "s390x": ("s390x", None), "riscv64": ("riscv64", None),
}
# A variant left out means the architecture's usual one (arm64 is v8: containerd normalises
# linux/arm64/v8 to linux/arm64, so the host's carries none).
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}


class Platform(Record, frozen=True):
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")


def host() -> Platform:
    machine = _os.uname().machine.lower()  # (the platform module costs 1.4 ms of start-up)
    arch, variant = _MACHINE_TO_ARCH.get(machine, (machine, None))
    return Platform("linux", arch, variant)


def parse(text: str | None) -> Platform:
    if not text:
        return host()
    parts = text.strip().lower().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UsageError(f"invalid platform {text!r}: expected OS/ARCH[/VARIANT]")
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else None)


def matches(wanted: Platform, os: str, architecture: str, variant: str | None) -> bool:
    if wanted.os != os or wanted.architecture != architecture:
        return False
    if wanted.variant is None:
        return True
    default = _DEFAULT_VARIANT.get(architecture)
    return (variant or default) == (wanted.variant or default)


def choose(index: Index, wanted: Platform, what: str) -> Descriptor:
    """The manifest for `wanted`; the first match wins, as docker and podman pick."""
    for desc in index.manifests:
        p = desc.platform
        if p is not None and matches(wanted, p.os, p.architecture, p.variant):
            return desc
    offered = ", ".join(str(d.platform) for d in index.manifests if d.platform and d.platform.os != "unknown")
    raise RegistryError(f"{what}: no image for {wanted} in the manifest list (it has: {offered or 'none'})",
                        code="MANIFEST_UNKNOWN")
