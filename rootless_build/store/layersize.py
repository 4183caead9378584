"""Uncompressed layer sizes: what docker shows as an image's SIZE, whatever the blobs'
compression. Local layers are stored uncompressed (the blob's size is the tar's); a
pulled gzip/zstd layer is measured once by streaming it, and the figure is kept as a
note about the blob (gc drops it with the blob)."""

from __future__ import annotations

from rootless_build.errors import RootlessBuildError
from rootless_build.oci import mediatypes as mt
from rootless_build.store.image import Image
from rootless_build.store.roots import LAYER_SIZE
from rootless_build.store.store import Store

_UNCOMPRESSED = (mt.OCI_LAYER, mt.DOCKER_LAYER)


def layer_sizes(store: Store, image: Image) -> list[int]:
    """The uncompressed tar size of each layer, bottom first."""
    return [_layer_size(store, layer) for layer in image.manifest_json.get("layers") or []]


def image_size(store: Store, image: Image) -> int:
    return sum(layer_sizes(store, image))


def _layer_size(store: Store, layer: dict[str, object]) -> int:
    digest, size = str(layer.get("digest", "")), int(str(layer.get("size", 0)))
    if layer.get("mediaType") in _UNCOMPRESSED:
        return size
    note = store.get_record(LAYER_SIZE, digest)
    noted = note.get("size") if note else None
    if isinstance(noted, int):
        return noted
    measured = _measure(store, digest)
    if measured is None:
        return size         # blob missing or unreadable: the stored size is all we know
    try:
        store.put_record(LAYER_SIZE, digest, {"size": measured}, durable=False)
    except OSError:         # a read-only store still lists its images
        pass
    return measured


def _measure(store: Store, digest: str) -> int | None:
    from rootless_build.layers.compression import READ_SIZE, open_uncompressed

    total = 0
    try:
        with store.blobs.open(digest) as blob, open_uncompressed(blob) as tar:
            while chunk := tar.read(READ_SIZE):
                total += len(chunk)
    except (OSError, RootlessBuildError):
        return None
    return total
