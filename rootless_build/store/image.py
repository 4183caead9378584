"""An image as the store holds it: raw manifest and config bytes beside their models."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rootless_build.oci import digest as dg
from rootless_build.oci.models import ImageConfig, Manifest


@dataclass(frozen=True)
class Image:
    manifest_digest: str
    manifest_bytes: bytes
    manifest: Manifest
    config_bytes: bytes
    config: ImageConfig
    tags: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        """Image ID = digest of the config, as docker and podman show it."""
        return self.manifest.config.digest

    @property
    def short_id(self) -> str:
        return dg.short_id(self.id)

    @property
    def size(self) -> int:
        """Sum of layer blob sizes (docker shows uncompressed size; ours are stored uncompressed)."""
        return sum(layer.size for layer in self.manifest.layers)

    @property
    def diff_ids(self) -> list[str]:
        return list(self.config.rootfs.diff_ids)

    @property
    def chain_ids(self) -> list[str]:
        return dg.chain_ids(self.diff_ids)

    @property
    def created(self) -> datetime | None:
        return parse_time(self.config.created)


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        # Go writes nanoseconds; Python 3.11 accepts at most microseconds.
        head, _, frac = text.partition(".")
        digits = "".join(c for c in frac if c.isdigit())[:6]
        tz = frac[len("".join(c for c in frac if c.isdigit())):]
        try:
            return datetime.fromisoformat(f"{head}.{digits}{tz}".replace("Z", "+00:00"))
        except ValueError:
            return None
