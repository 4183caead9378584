"""An image as the store holds it: raw manifest and config bytes, with the fields every
command needs read straight from JSON and the pydantic models parsed only on first use
(importing pydantic costs ~0.1 s of start-up, which `run`, `ps` and cached builds avoid)."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from rootless_build.oci import digest as dg
from rootless_build.record import Record

if TYPE_CHECKING:
    from rootless_build.oci.models import ImageConfig, Manifest


class Image(Record, frozen=True):
    manifest_digest: str
    manifest_bytes: bytes
    config_bytes: bytes
    tags: tuple[str, ...] = ()

    @cached_property
    def manifest_json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.manifest_bytes)
        return value

    @cached_property
    def config_json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.config_bytes)
        return value

    @cached_property
    def manifest(self) -> Manifest:
        from rootless_build.oci.models import parse_manifest

        return parse_manifest(self.manifest_bytes)

    @cached_property
    def config(self) -> ImageConfig:
        from rootless_build.oci.models import parse_config

        return parse_config(self.config_bytes)

    @property
    def id(self) -> str:
        """Image ID = digest of the config, as docker and podman show it."""
        digest: str = self.manifest_json["config"]["digest"]
        return digest

    @property
    def short_id(self) -> str:
        return dg.short_id(self.id)

    @property
    def layer_digests(self) -> list[str]:
        return [layer["digest"] for layer in self.manifest_json.get("layers") or []]

    @property
    def size(self) -> int:
        """Sum of layer blob sizes (docker shows uncompressed size; ours are stored uncompressed)."""
        return sum(layer.get("size", 0) for layer in self.manifest_json.get("layers") or [])

    @property
    def diff_ids(self) -> list[str]:
        return list((self.config_json.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def chain_ids(self) -> list[str]:
        return dg.chain_ids(self.diff_ids)

    @property
    def created(self) -> datetime | None:
        return parse_time(self.config_json.get("created"))


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
