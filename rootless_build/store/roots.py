"""What keeps blobs alive: index.json, build cache records, and the images containers use,
which callers pass in (GC roots)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rootless_build.errors import RootlessBuildError, StoreError
from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.oci.documents import InvalidDocument, load_json
from rootless_build.oci.partial import config_diff_ids
from rootless_build.store.store import Store

BUILD_CACHE = "build"
VARIANTS = "variants"
# Notes about one blob, named by its digest; gc drops them with the blob.
LAYER_INDEX = "layer-index"  # the entries of a layer tar (build.layerindex)
BLOB_SOURCES = "blob-sources"  # registry repositories known to hold it (registry.locations)
DIFF_ID = "diff-id"  # the digest of its uncompressed content, checked once (registry.pull)
SBOM_LAYER = "sbom-layer"  # what an SBOM scan found in a layer (sbom.scan)
REFERRERS = "referrers"  # the artifacts attached to an image manifest (store.referrers)
LAYER_SIZE = "layer-size"  # a compressed layer's uncompressed size (store.layersize)
BLOB_NOTES = (LAYER_INDEX, BLOB_SOURCES, DIFF_ID, SBOM_LAYER, REFERRERS, LAYER_SIZE)
# name -> the image index a pull of it chose from (not a root: a later lookup for another
# platform uses it only while the index and that platform's image are still stored)
PULLED_INDEXES = "pulled-indexes"


def root_manifests(store: Store, in_use: Iterable[str], *, include_cache: bool = True) -> set[str]:
    """Images that must keep their blobs: the index's (an unreadable index raises, it is
    never taken for an empty one), the build cache's, and `in_use`, those containers stand
    on (read from their records by the caller: containers.usage)."""
    from rootless_build.store.referrers import roots as attached  # (referrers imports this module)

    roots = {entry["digest"] for entry in store.entries()}
    if include_cache:
        roots |= cache_manifests(store)
    roots |= set(in_use)
    return roots | attached(store, roots)  # SBOMs, provenance: kept with their image


def cache_manifests(store: Store) -> set[str]:
    return {rec["manifest"] for _, rec in store.records(BUILD_CACHE) if isinstance(rec.get("manifest"), str)}


def reachable(store: Store, manifests: set[str], *, cached: frozenset[str] | set[str] = frozenset()
              ) -> tuple[set[str], set[str]]:
    """(blob digests, chain ids) reachable from the given manifests or indexes. A manifest
    that is stored but unreadable raises (its layers are unknown, so nothing could be freed
    safely), unless only the build cache refers to it (`cached`): a cache entry is dropped."""
    blobs: set[str] = set()
    chains: set[str] = set()
    pending = list(manifests)
    while pending:
        digest = pending.pop()
        if digest in blobs or not store.blobs.has(digest):
            continue
        blobs.add(digest)
        try:
            doc = load_json(store.blobs.read(digest), "manifest")
            children = _digests(doc, "manifests")
            config = doc.get("config") or {}
            if not isinstance(config, dict) or not isinstance(config.get("digest", ""), str):
                raise InvalidDocument("'config' is not a descriptor")
            layers = _digests(doc, "layers")
        except RootlessBuildError as e:
            if digest in cached:
                continue
            raise StoreError(f"manifest {digest} cannot be read ({e}): not collecting garbage, its "
                             "blobs are unknown; `rootless-build rmi` the image or pull it again") from None
        if doc.get("mediaType") in mt.INDEXES or "manifests" in doc:
            pending.extend(children)
            continue
        if "digest" in config:
            blobs.add(config["digest"])
            chains |= set(dg.chain_ids(_diff_ids(store, config["digest"])))
        blobs |= set(layers)
    for _, rec in store.records(VARIANTS):
        if rec.get("source") in blobs and "digest" in rec:
            blobs.add(rec["digest"])
    return blobs, chains


def _digests(doc: dict[str, Any], key: str) -> list[str]:
    items = doc.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("digest"), str)
                                              for i in items):
        raise InvalidDocument(f"'{key}' is not a list of descriptors")
    return [i["digest"] for i in items]


def _diff_ids(store: Store, config_digest: str) -> list[str]:
    """An unreadable config only costs the unpacked layers (extracted again from blobs)."""
    try:
        return config_diff_ids(load_json(store.blobs.path(config_digest).read_bytes()))
    except Exception:
        return []

