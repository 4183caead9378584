"""Build cache: a step's key is a hash of what decides its result; a record maps the key
to the image the step produced (GC keeps it, since the record names its manifest).

key = sha256 over canonical JSON of: format version, the parent (manifest digest of the
image the step starts from, or `scratch` with its platform), the instruction keyword and
its inputs (expanded text and flags; build args in scope for RUN; for COPY/ADD the
names, modes, owners and content digests of what it writes).
"""

from __future__ import annotations

import hashlib
import json

from rootless_build.errors import RootlessBuildError
from rootless_build.store.roots import BUILD_CACHE

_VERSION = 1


def step_key(parent: str, keyword: str, material) -> str:
    doc = {"v": _VERSION, "parent": parent, "instruction": keyword, "inputs": material}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def lookup(store, key: str):
    """The cached image for a key, or None (missing record or a blob since collected)."""
    record = store.get_record(BUILD_CACHE, key)
    if not record or "manifest" not in record:
        return None
    digest = record["manifest"]
    if not store.blobs.has(digest):
        return None
    try:
        image = store.load_image(digest)
    except RootlessBuildError:
        return None
    if not all(store.blobs.has(layer.digest) for layer in image.manifest.layers):
        return None
    return image


def record(store, key: str, image) -> None:
    store.put_record(BUILD_CACHE, key, {"manifest": image.manifest_digest, "image": image.id})
