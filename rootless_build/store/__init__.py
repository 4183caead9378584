"""The on-disk store: an OCI image layout with locks, tags, caches and GC."""

from rootless_build.store.image import Image
from rootless_build.store.store import Store

__all__ = ["Image", "Store"]
