"""What keeps blobs alive: index.json, build cache records, containers (GC roots)."""

from __future__ import annotations

import json
from typing import Iterator

from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.oci.documents import load_json
from rootless_build.store.store import Store

BUILD_CACHE = "build"
VARIANTS = "variants"
# Notes about one blob, named by its digest; gc drops them with the blob.
LAYER_INDEX = "layer-index"  # the entries of a layer tar (build.layerindex)
BLOB_SOURCES = "blob-sources"  # registry repositories known to hold it (registry.locations)
LAYER_SIZE = "layer-size"  # a compressed layer's uncompressed size (store.layersize)
BLOB_NOTES = (LAYER_INDEX, BLOB_SOURCES, LAYER_SIZE)


def root_manifests(store: Store, *, include_cache: bool = True) -> set[str]:
    roots = {entry["digest"] for entry in store.entries()}
    if include_cache:
        roots |= {rec["manifest"] for _, rec in store.records(BUILD_CACHE) if "manifest" in rec}
    roots |= set(container_images(store))
    return roots


def container_images(store: Store) -> Iterator[str]:
    """Manifest digests that containers run on ($ROOT/containers/<id>/container.json)."""
    if not store.containers_dir.is_dir():
        return
    for path in store.containers_dir.glob("*/container.json"):
        try:
            digest = json.loads(path.read_bytes()).get("manifest_digest")
        except (ValueError, OSError):
            continue
        if digest:
            yield digest


def reachable(store: Store, manifests: set[str]) -> tuple[set[str], set[str]]:
    """(blob digests, chain ids) reachable from the given manifests or indexes."""
    blobs: set[str] = set()
    chains: set[str] = set()
    pending = list(manifests)
    while pending:
        digest = pending.pop()
        if digest in blobs or not store.blobs.has(digest):
            continue
        blobs.add(digest)
        try:
            doc = load_json(store.blobs.path(digest).read_bytes())
        except Exception:
            continue
        if doc.get("mediaType") in mt.INDEXES or "manifests" in doc:
            pending.extend(m["digest"] for m in doc.get("manifests", []) if "digest" in m)
            continue
        config = doc.get("config") or {}
        if "digest" in config:
            blobs.add(config["digest"])
            chains |= set(dg.chain_ids(_diff_ids(store, config["digest"])))
        blobs |= {layer["digest"] for layer in doc.get("layers", []) if "digest" in layer}
    for _, rec in store.records(VARIANTS):
        if rec.get("source") in blobs and "digest" in rec:
            blobs.add(rec["digest"])
    return blobs, chains


def _diff_ids(store: Store, config_digest: str) -> list[str]:
    try:
        config = load_json(store.blobs.path(config_digest).read_bytes())
        return list((config.get("rootfs") or {}).get("diff_ids") or [])
    except Exception:
        return []
