"""Uncompressed layer sizes: what docker shows as an image's SIZE, whatever the blobs'
compression. Local layers are stored uncompressed (the blob's size is the tar's); a
pulled gzip/zstd layer is measured once by streaming it, and the figure is kept as a
note about the blob (gc drops it with the blob)."""

from __future__ import annotations

from rootless_build.errors import RootlessBuildError
from rootless_build.oci import mediatypes as mt
from rootless_build.store.image import Image
from rootless_build.store.layer import StoredImage, StoredLayer
from rootless_build.store.roots import LAYER_SIZE
from rootless_build.store.store import Store

_UNCOMPRESSED = (mt.OCI_LAYER, mt.DOCKER_LAYER)


def layer_sizes(store: Store, image: Image) -> list[int]:
    """The uncompressed tar size of each layer, bottom first."""
    return [_layer_size(store, layer) for layer in StoredImage(image, store.blobs).layers()]


def image_size(store: Store, image: Image) -> int:
    return sum(layer_sizes(store, image))


def _layer_size(store: Store, layer: StoredLayer) -> int:
    if layer.media_type in _UNCOMPRESSED:
        return layer.size
    note = store.get_record(LAYER_SIZE, layer.digest)
    noted = note.get("size") if note else None
    if isinstance(noted, int):
        return noted
    measured = _measure(layer)
    if measured is None:
        return layer.size   # blob missing or unreadable: the stored size is all we know
    try:
        store.put_record(LAYER_SIZE, layer.digest, {"size": measured}, durable=False)
    except OSError:         # a read-only store still lists its images
        pass
    return measured


def _measure(layer: StoredLayer) -> int | None:
    from rootless_build.layers.compression import READ_SIZE

    total = 0
    try:
        with layer.open_uncompressed() as tar:
            while chunk := tar.read(READ_SIZE):
                total += len(chunk)
    except (OSError, RootlessBuildError):
        return None
    return total
