"""An image's SBOM: made from its layers, or the one already attached to it."""

from __future__ import annotations

from rootless_build.sbom import document
from rootless_build.store import Image, Store, referrers

subject = referrers.subject_of


def make(store: Store, image: Image, fmt: str = "spdx-json") -> bytes:
    from rootless_build.sbom.scan import LayerCache, find_packages, layer_openers

    if fmt not in document.FORMATS:
        document.render(fmt, "", "", [])  # raises the UsageError naming the formats
    name = image.tags[0] if image.tags else image.manifest_digest
    packages = find_packages(layer_openers(store, image), LayerCache(store))
    return document.render(fmt, name, image.manifest_digest, packages)


def attached(store: Store, image: Image, fmt: str = "spdx-json") -> bytes | None:
    """The SBOM of this format attached to the image, if any."""
    for entry in referrers.referrers(store, image.manifest_digest, document.MEDIA_TYPES[fmt]):
        return referrers.read_artifact(store, entry)[1]
    return None


def ensure(store: Store, image: Image, fmt: str = "spdx-json") -> bytes:
    """The attached SBOM, made and attached first when there is none (a rebuild that
    changed nothing finds the one its first build attached)."""
    data = attached(store, image, fmt)
    if data is None:
        data = make(store, image, fmt)
        media_type = document.MEDIA_TYPES[fmt]
        referrers.attach(store, subject(image), media_type, media_type, data)
    return data
