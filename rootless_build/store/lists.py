"""Manifest lists (buildah's and podman's `manifest` lists): OCI image indexes kept in the
store's index.json beside the images, under a name (`org.opencontainers.image.ref.name`).

A list's entry has the index media type, so image lookups (Store.resolve, images) pass it
by; its images need no entry of their own: gc follows the index to them (store.roots).
A name is either an image's or a list's: saving a list under a name takes it from an image.
"""

from __future__ import annotations

import json
from typing import Any

from rootless_build.errors import ImageNotFound, UsageError
from rootless_build.oci import mediatypes as mt
from rootless_build.record import Record
from rootless_build.store import layout, names
from rootless_build.store.image import Image
from rootless_build.store.store import Store


class ManifestList(Record, frozen=True):
    name: str | None
    digest: str
    raw: bytes

    @property
    def doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.raw)
        return doc

    @property
    def manifests(self) -> list[dict[str, Any]]:
        return list(self.doc.get("manifests") or [])


def is_list_entry(entry: dict[str, Any]) -> bool:
    return entry.get("mediaType") in mt.INDEXES


def find_list(store: Store, text: str) -> ManifestList | None:
    """The list named `text` (a name or its index digest), or None."""
    try:
        wanted = names.normalize(text) if "@" not in text and not text.startswith("sha256:") else None
    except Exception:  # noqa: BLE001 - not a name: maybe a digest
        wanted = None
    for entry in store.entries():
        if not is_list_entry(entry):
            continue
        name = layout.ref_name(entry)
        if (wanted and name and names.same_image_name(name, wanted)) or entry["digest"] == text:
            return ManifestList(name, entry["digest"], store.blobs.read(entry["digest"]))
    return None


def get_list(store: Store, text: str) -> ManifestList:
    found = find_list(store, text)
    if found is None:
        raise ImageNotFound(f"{text}: no such manifest list")
    return found


def image_descriptor(image: Image) -> dict[str, Any]:
    """An index entry for a stored image, with the platform its config names."""
    found = image.platform
    platform = {"architecture": found.architecture, "os": found.os}
    if found.variant:
        platform["variant"] = found.variant
    return {"mediaType": image.media_type, "digest": image.manifest_digest,
            "size": len(image.manifest_bytes), "platform": platform}


def save_list(store: Store, name: str, manifests: list[dict[str, Any]], annotations: dict[str, str] | None = None
              ) -> ManifestList:
    """Store an index over `manifests` (descriptor dicts) under `name`, replacing what had it."""
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests}
    if annotations:
        doc["annotations"] = annotations
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    name = names.normalize(name)
    with store.writing():
        digest = store.blobs.put_bytes(raw)
        with store.index_lock():
            entries = store.entries()
            for entry in entries:
                if layout.ref_name(entry) == name:
                    del entry["annotations"][mt.ANNOTATION_REF_NAME]
            entries = [e for e in entries if layout.ref_name(e) or not is_list_entry(e)]
            entries.append({"mediaType": mt.OCI_INDEX, "digest": digest, "size": len(raw),
                            "annotations": {mt.ANNOTATION_REF_NAME: name}})
            layout.write_index(store.root, _keep_untagged_images_once(entries))
    return ManifestList(name, digest, raw)


def add_image(store: Store, name: str, image: Image, *, create: bool = True) -> ManifestList:
    """Put `image` in list `name` (created when missing and `create`); an image of the same
    platform already there is replaced, as buildah's `manifest add` and `build --manifest` do."""
    current = find_list(store, name)
    if current is None and not create:
        raise ImageNotFound(f"{name}: no such manifest list")
    entry = image_descriptor(image)
    kept = [m for m in (current.manifests if current else [])
            if m["digest"] != entry["digest"] and m.get("platform") != entry["platform"]]
    return save_list(store, name, [*kept, entry], current.doc.get("annotations") if current else None)


def remove_image(store: Store, name: str, digest: str) -> ManifestList:
    current = get_list(store, name)
    kept = [m for m in current.manifests if m["digest"] != digest]
    if len(kept) == len(current.manifests):
        raise ImageNotFound(f"{digest}: not in manifest list {name}")
    return save_list(store, current.name or name, kept, current.doc.get("annotations"))


def delete_list(store: Store, text: str) -> str:
    """`manifest rm`: drop the list (its images stay until gc finds them unused)."""
    found = get_list(store, text)
    with store.index_lock():
        entries = [e for e in store.entries() if not (is_list_entry(e) and e["digest"] == found.digest
                                                      and layout.ref_name(e) == found.name)]
        layout.write_index(store.root, entries)
    return found.name or found.digest


def list_images(store: Store, found: ManifestList) -> list[Image]:
    """The stored images of a list, in its order (an entry whose image is absent is an error)."""
    images = []
    for entry in found.manifests:
        if entry.get("mediaType") in mt.INDEXES:
            raise UsageError(f"{found.name}: nested manifest lists are not supported")
        if not store.blobs.has(entry["digest"]):
            raise ImageNotFound(f"{found.name}: image {entry['digest']} of the list is not in the store")
        images.append(store.load_image(entry["digest"]))
    return images


def _keep_untagged_images_once(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out, seen = [], set()
    for entry in entries:
        if layout.ref_name(entry) or entry["digest"] not in seen:
            seen.add(entry["digest"])
            out.append({k: v for k, v in entry.items() if k != "annotations" or v})
    return out
