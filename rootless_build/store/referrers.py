"""Artifacts attached to a stored image (SBOMs, provenance): OCI 1.1 artifact manifests
whose `subject` is the image's manifest, kept out of index.json (they are not images)
and listed per subject in a record shaped like the registry referrers API's answer:
an image index of the artifacts' descriptors, each with its artifactType."""

from __future__ import annotations

import json
from typing import Any

from rootless_build.errors import StoreError
from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.store.store import Store

REFERRERS = "referrers"
EMPTY_CONFIG = b"{}"


def subject_of(image: Any) -> dict[str, Any]:
    """The descriptor of a stored image's manifest (an artifact's `subject`)."""
    return {"mediaType": image.media_type, "digest": image.manifest_digest, "size": len(image.manifest_bytes)}


def artifact_manifest(subject: dict[str, Any], artifact_type: str, layer_media_type: str, data: bytes,
                      annotations: dict[str, str] | None = None) -> bytes:
    """An OCI 1.1 artifact manifest carrying `data` as its one layer, for `subject`
    (the image manifest's descriptor: mediaType, digest, size)."""
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": mt.OCI_EMPTY, "digest": dg.of_bytes(EMPTY_CONFIG), "size": len(EMPTY_CONFIG)},
        "layers": [{"mediaType": layer_media_type, "digest": dg.of_bytes(data), "size": len(data)}],
        "subject": {k: subject[k] for k in ("mediaType", "digest", "size")},
    }
    if annotations:
        doc["annotations"] = annotations
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def descriptor(raw: bytes) -> dict[str, Any]:
    """The referrers-index entry for an artifact manifest."""
    doc = json.loads(raw)
    out = {"mediaType": mt.OCI_MANIFEST, "digest": dg.of_bytes(raw), "size": len(raw),
           "artifactType": doc.get("artifactType", "")}
    if doc.get("annotations"):
        out["annotations"] = doc["annotations"]
    return out


def attach(store: Store, subject: dict[str, Any], artifact_type: str, layer_media_type: str, data: bytes,
           annotations: dict[str, str] | None = None, *, replace: bool = True) -> str:
    """Store an artifact for `subject` and list it; one per artifact type unless `replace`
    is False. Returns the artifact manifest's digest."""
    raw = artifact_manifest(subject, artifact_type, layer_media_type, data, annotations)
    with store.writing():
        store.blobs.put_bytes(EMPTY_CONFIG)
        store.blobs.put_bytes(data)
        store.blobs.put_bytes(raw)
        add_raw(store, subject["digest"], raw, replace=replace)
    return dg.of_bytes(raw)


def add_raw(store: Store, subject_digest: str, raw: bytes, *, replace: bool = False) -> None:
    """List an artifact manifest already in the blob store (pull, load) under its subject."""
    entry = descriptor(raw)
    with store.index_lock():
        entries = [e for e in referrers(store, subject_digest) if e["digest"] != entry["digest"]
                   and not (replace and e.get("artifactType") == entry["artifactType"])]
        entries.append(entry)
        store.put_record(REFERRERS, subject_digest, {"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                                                     "manifests": entries})


def referrers(store: Store, subject_digest: str, artifact_type: str | None = None) -> list[dict[str, Any]]:
    """Descriptors of the artifacts attached to `subject_digest` whose blobs are present."""
    record = store.get_record(REFERRERS, subject_digest) or {}
    return [e for e in record.get("manifests", []) if isinstance(e, dict) and store.blobs.has(e.get("digest", ""))
            and (artifact_type is None or e.get("artifactType") == artifact_type)]


def read_artifact(store: Store, entry: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """(artifact manifest, its one layer's bytes)."""
    manifest = json.loads(store.blobs.read(entry["digest"]))
    layers = manifest.get("layers") or []
    if len(layers) != 1 or not store.blobs.has(layers[0].get("digest", "")):
        raise StoreError(f"artifact {entry['digest']} is incomplete (run fsck)")
    return manifest, store.blobs.read(layers[0]["digest"])


def roots(store: Store, manifests: set[str]) -> set[str]:
    """The artifact manifests attached to `manifests` (GC keeps them with their image)."""
    return {e["digest"] for d in manifests for e in referrers(store, d)}
