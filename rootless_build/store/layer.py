"""The store's images and layers as oci/partial.py's Image and Layer: the raw documents
of a stored image and its blobs, read (verified) from the store's BlobStore."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, cast

from rootless_build.oci import partial
from rootless_build.oci.partial import LayerInfo
from rootless_build.store.blobstore import BlobStore
from rootless_build.store.image import Image


class StoredLayer:
    """A layer blob in the store (oci.partial.Layer)."""

    __slots__ = ("_blobs", "_info")

    def __init__(self, blobs: BlobStore, info: LayerInfo) -> None:
        self._blobs = blobs
        self._info = info

    @property
    def digest(self) -> str:
        return self._info.digest

    @property
    def diff_id(self) -> str:
        return self._info.diff_id

    @property
    def size(self) -> int:
        return self._info.size

    @property
    def media_type(self) -> str:
        return self._info.media_type

    def open_compressed(self) -> BinaryIO:
        return self._blobs.open(self.digest, self.size)

    @contextmanager
    def open_uncompressed(self) -> Iterator[BinaryIO]:
        from rootless_build.layers.compression import open_uncompressed

        with self._blobs.open(self.digest, self.size) as blob, open_uncompressed(blob) as tar:
            yield cast(BinaryIO, tar)


class StoredImage:
    """A stored image with the store's blobs (oci.partial.Image)."""

    __slots__ = ("_blobs", "image")

    def __init__(self, image: Image, blobs: BlobStore) -> None:
        self.image = image
        self._blobs = blobs

    @property
    def manifest_bytes(self) -> bytes:
        return self.image.manifest_bytes

    @property
    def config_bytes(self) -> bytes:
        return self.image.config_bytes

    @property
    def media_type(self) -> str:
        return self.image.media_type

    def open_blob(self, digest: str) -> BinaryIO:
        return self._blobs.open(digest)

    def layers(self) -> list[StoredLayer]:
        """Bottom first."""
        return [StoredLayer(self._blobs, info) for info in self.image.layers]


def _conforms(layer: StoredLayer, image: StoredImage) -> tuple[partial.Layer, partial.Image]:
    """Never called: mypy checks here that both satisfy the protocols."""
    return layer, image
