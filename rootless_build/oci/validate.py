"""Documents entering the store (pull, load, import) are validated here, once, strictly,
with the pydantic models; errors are one line naming the image and the field. The raw
bytes stay the caller's: digests are of them, never of a model serialised again.

Also the one check that a layer's uncompressed content is what the config's diff_ids say:
unpacked layers are shared by chain id, so a layer that lies would poison other images."""

from __future__ import annotations

from collections.abc import Sequence

from rootless_build.oci.documents import InvalidDocument
from rootless_build.oci.models import Descriptor, ImageConfig, Index, Manifest, parse_as


class LayerMismatch(InvalidDocument):
    """A layer's uncompressed content does not hash to the config's diff_id."""


def manifest(raw: bytes, image: str) -> Manifest:
    return parse_as(Manifest, raw, f"{image}: manifest", strict=True)


def index(raw: bytes, image: str) -> Index:
    return parse_as(Index, raw, f"{image}: image index", strict=True)


def image_config(raw: bytes, image: str) -> ImageConfig:
    return parse_as(ImageConfig, raw, f"{image}: image config", strict=True)


def layer_count(config: ImageConfig, layers: Sequence[object], image: str) -> list[str]:
    """The config's diff_ids, one per layer of the manifest (or an error)."""
    diff_ids = list(config.rootfs.diff_ids)
    if len(diff_ids) != len(layers):
        raise InvalidDocument(f"{image}: image config: rootfs.diff_ids lists {len(diff_ids)} layers, "
                              f"the manifest {len(layers)}")
    return diff_ids


def diff_id(n: int, actual: str, expected: str, image: str, layer: Descriptor | str | None = None) -> None:
    """Layer `n` (0-based) must uncompress to `expected`."""
    if actual != expected:
        name = layer.digest if isinstance(layer, Descriptor) else layer
        blob = f" of blob {name}" if name else ""
        raise LayerMismatch(f"{image}: layer {n + 1} is corrupt: the content{blob} hashes to {actual}, "
                            f"the config's rootfs.diff_ids.{n} says {expected}")
