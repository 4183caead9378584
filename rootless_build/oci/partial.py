"""What any image source can give (raw manifest and config bytes, the manifest's media type,
blobs by digest) as small Protocols, and what is derived from those raw parts, computed once
and here only, as go-containerregistry's pkg/v1/partial does: the image ID, layer digests,
sizes and media types, diff_ids, chain IDs, platform, created, and the parsed documents.

Derivation reads the JSON by hand: the pydantic models (`manifest`, `config`) load on first
use only (importing pydantic costs ~0.1 s of start-up, which `run`, `ps` and cached builds
avoid). Sources are validated where they enter (oci/validate.py); what is read here from a
stored document is taken as it is, missing lists read as empty."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.oci.platform import Platform, matches
from rootless_build.record import Record

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from rootless_build.oci.models import ImageConfig, Manifest


class RawImage(Protocol):
    """The raw parts everything else is derived from."""

    @property
    def manifest_bytes(self) -> bytes: ...
    @property
    def config_bytes(self) -> bytes: ...


class Image(RawImage, Protocol):
    """An image wherever it lives (the store, a registry, an archive): its raw documents and
    its blobs (go-containerregistry's CompressedImageCore)."""

    @property
    def media_type(self) -> str: ...
    def open_blob(self, digest: str) -> BinaryIO:
        """A reader of the blob's bytes as stored (a layer possibly compressed), checked."""
        ...


class Layer(Protocol):
    """One layer of an image: its blob (as stored or sent) and the tar inside it."""

    @property
    def digest(self) -> str: ...
    @property
    def diff_id(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def media_type(self) -> str: ...
    def open_compressed(self) -> AbstractContextManager[BinaryIO]:
        """The blob as stored (for a local layer, the plain tar itself), checked."""
        ...
    def open_uncompressed(self) -> AbstractContextManager[BinaryIO]:
        """The tar inside the blob, decompressed as it is read."""
        ...


class LayerInfo(Record, frozen=True):
    """A layer as its image's documents describe it: the manifest's descriptor and the
    config's diff_id at the same position."""

    digest: str
    media_type: str
    size: int
    diff_id: str


class Derived:
    """The derived fields of a RawImage, for a class that has `manifest_bytes` and
    `config_bytes` (a mixin: the store's Image is a Record); each is computed once."""

    manifest_bytes: bytes
    config_bytes: bytes

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
    def media_type(self) -> str:
        """As the manifest declares it, else as its fields say (docker's config type: docker's)."""
        return media_type_of(self.manifest_json)

    @property
    def annotations(self) -> dict[str, str]:
        """The manifest's annotations ({} for none)."""
        return dict(self.manifest_json.get("annotations") or {})

    @property
    def container_config(self) -> dict[str, Any]:
        """The config's `config` object (Env, Cmd, Labels, OnBuild, ...), {} when absent;
        read only: oci/config.py makes edits."""
        inner = self.config_json.get("config")
        return inner if isinstance(inner, dict) else {}

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.container_config.get("Labels") or {})

    @property
    def id(self) -> str:
        """Image ID = digest of the config, as docker and podman show it."""
        digest: str = self.manifest_json["config"]["digest"]
        return digest

    @property
    def short_id(self) -> str:
        return dg.short_id(self.id)

    @property
    def layer_descriptors(self) -> list[dict[str, Any]]:
        """The manifest's layer descriptors, bottom first, as written."""
        return list(self.manifest_json.get("layers") or [])

    @property
    def layer_digests(self) -> list[str]:
        return [layer["digest"] for layer in self.layer_descriptors]

    @property
    def layer_sizes(self) -> list[int]:
        """Blob sizes, as stored (compressed for a pulled layer)."""
        return [int(layer.get("size", 0)) for layer in self.layer_descriptors]

    @property
    def size(self) -> int:
        """Sum of layer blob sizes (docker shows uncompressed size; ours are stored uncompressed)."""
        return sum(self.layer_sizes)

    @cached_property
    def _diff_ids(self) -> tuple[str, ...]:
        return tuple(config_diff_ids(self.config_json))

    @property
    def diff_ids(self) -> list[str]:
        return list(self._diff_ids)

    @property
    def chain_ids(self) -> list[str]:
        return dg.chain_ids(self.diff_ids)

    @cached_property
    def layers(self) -> tuple[LayerInfo, ...]:
        """Each layer's descriptor with its diff_id, bottom first (validated sources list as
        many of each; a stored image that does not has "" for the diff_ids it lacks)."""
        diff_ids = self._diff_ids
        return tuple(LayerInfo(d["digest"], d.get("mediaType", ""), int(d.get("size", 0)),
                               diff_ids[n] if n < len(diff_ids) else "")
                     for n, d in enumerate(self.layer_descriptors))

    @property
    def created(self) -> datetime | None:
        return parse_time(self.config_json.get("created"))

    @cached_property
    def platform(self) -> Platform:
        """The config's os, architecture and variant, as written ("" for one missing)."""
        config = self.config_json
        return Platform(str(config.get("os") or ""), str(config.get("architecture") or ""),
                        str(config["variant"]) if config.get("variant") else None)

    def is_for(self, wanted: Platform) -> bool:
        """Whether the image runs on `wanted` (a config naming no os is taken as linux's)."""
        mine = self.platform
        return matches(wanted, mine.os or "linux", mine.architecture, mine.variant)


def media_type_of(manifest: dict[str, Any]) -> str:
    """A manifest's media type: declared, else an index's (it lists manifests) or an image
    manifest's, docker's when its config is docker's."""
    declared = manifest.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if "manifests" in manifest:
        return mt.OCI_INDEX
    config = manifest.get("config")
    docker = isinstance(config, dict) and config.get("mediaType") == mt.DOCKER_CONFIG
    return mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST


def config_diff_ids(config: dict[str, Any]) -> list[str]:
    """rootfs.diff_ids of a config document (read as stored; absent reads as none)."""
    rootfs = config.get("rootfs")
    listed = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    return [d for d in listed if isinstance(d, str)] if isinstance(listed, list) else []


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
