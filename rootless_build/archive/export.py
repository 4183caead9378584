"""What an export writes for each image: its layers in the wanted compression (each
written once, compressed straight into the destination when no variant exists yet) and a
manifest over them. The config is unchanged (diff_ids do not depend on compression), so
the image ID stays the same."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from rootless_build.archive.destinations import Destination
from rootless_build.errors import RootlessBuildError, StoreError
from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.oci import reference
from rootless_build.oci.models import Descriptor
from rootless_build.store import Image, Store, names
from rootless_build.store.variants import compressed_layer, find_variant, make_variant

# Compressing into a member whose header is written afterwards needs the size to fit a
# ustar header (8 GiB); gzip/zstd of this much input stays well below it.
_DEFER_LIMIT = 4 << 30


@dataclass(frozen=True)
class ExportImage:
    image: Image
    tags: tuple[str, ...]  # the names it has in the export
    manifest_bytes: bytes
    layers: tuple[Descriptor, ...]

    @property
    def manifest_digest(self) -> str:
        return dg.of_bytes(self.manifest_bytes)

    @property
    def config_digest(self) -> str:
        return self.image.id


def select(store: Store, texts: list[str]) -> list[tuple[Image, tuple[str, ...]]]:
    """Resolve what the user named; an image named by a tag is saved under that tag, one
    named by ID under none (like docker save). Images named twice merge their tags."""
    chosen: dict[str, tuple[Image, list[str]]] = {}
    for text in texts:
        image = store.resolve(text)
        if len(image.diff_ids) != len(image.manifest.layers):
            raise StoreError(f"image {text}: its config lists {len(image.diff_ids)} layers, "
                             f"its manifest {len(image.manifest.layers)}")
        tag = _tag_named(image, text)
        _, tags = chosen.setdefault(image.manifest_digest, (image, []))
        if tag and tag not in tags:
            tags.append(tag)
    return [(image, tuple(tags)) for image, tags in chosen.values()]


def _tag_named(image: Image, text: str) -> str | None:
    try:
        wanted = names.normalize(text)
    except RootlessBuildError:
        return None
    return next((t for t in image.tags if names.same_image_name(t, wanted)), None)


class LayerExporter:
    """Writes each stored layer once into `dest`, in `compression`: a copy of the stored
    blob or of its remembered variant, or (none yet) compressed into the destination and
    into the store in the same pass. Returns the exported descriptors."""

    def __init__(self, store: Store, compression: str, dest: Destination, name_for: Callable[[str], str],
                 defer_in: str | None = None):
        """`name_for(digest)` names a layer's file; with `defer_in`, the directory all those
        names share, a layer being compressed is streamed into `dest` as it is made."""
        self._store = store
        self._compression = compression
        self._dest = dest
        self._name_for = name_for
        self._defer_in = defer_in if defer_in is not None and dest.can_defer() else None
        self._done: dict[str, Descriptor] = {}

    def __call__(self, layer: Descriptor, diff_id: str) -> Descriptor:
        if layer.digest not in self._done:
            self._done[layer.digest] = self._export(layer, diff_id)
        return self._done[layer.digest]

    def _export(self, layer: Descriptor, diff_id: str) -> Descriptor:
        stored = mt.layer_compression(layer.media_type)
        ready = layer if stored == self._compression else find_variant(self._store, layer.digest, self._compression)
        if ready is None and self._defer_in is not None and not stored and layer.size < _DEFER_LIMIT:
            prefix = f"{self._defer_in}/"
            return self._dest.add_deferred(
                self._defer_in,
                lambda out: make_variant(self._store, layer, self._compression, diff_id, tee=out),
                lambda digest: self._name_for(digest).removeprefix(prefix))
        desc = ready or compressed_layer(self._store, layer, self._compression, diff_id)
        self._dest.add_file(self._name_for(desc.digest), self._store.blobs.path(desc.digest), desc.size)
        return desc


def export_manifest(image: Image, layers: list[Descriptor]) -> bytes:
    """An OCI manifest naming the exported layers: the stored bytes when nothing changed."""
    if image.manifest.media_type == mt.OCI_MANIFEST and layers == list(image.manifest.layers):
        return image.manifest_bytes
    doc = json.loads(image.manifest_bytes)
    doc["mediaType"] = mt.OCI_MANIFEST
    doc["config"]["mediaType"] = mt.OCI_CONFIG
    doc["layers"] = [_oci_descriptor(d) for d in layers]
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _oci_descriptor(desc: Descriptor) -> dict:
    out = desc.model_dump(mode="json", by_alias=True, exclude_none=True)
    out["mediaType"] = mt.oci_layer_type(mt.layer_compression(desc.media_type))
    return out


def repository_and_tag(name: str) -> tuple[str, str]:
    ref = reference.parse(name)
    return ref.name, ref.tag or "latest"
