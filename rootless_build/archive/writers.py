"""Write images as an OCI layout (into a tar or a directory) or in `docker save`'s format.
A writer only places files; `save` picks the destination and makes it atomic."""

from __future__ import annotations

import json

from rootless_build.archive.destinations import Destination
from rootless_build.archive.export import ExportImage, LayerExporter, export_manifest, repository_and_tag
from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.store import Image, Store

Selected = list[tuple[Image, tuple[str, ...]]]


def _hex(digest: str) -> str:
    return dg.parse(digest)[1]


def _blob_name(digest: str) -> str:
    algo, hexpart = dg.parse(digest)
    return f"blobs/{algo}/{hexpart}"


def _layer_tar_name(digest: str) -> str:
    return f"{_hex(digest)}/layer.tar"


def write_oci_layout(dest: Destination, store: Store, selected: Selected, compression: str,
                     lists: tuple = ()) -> list[ExportImage]:
    """oci-layout, blobs (each once; layers first) and index.json with a ref.name
    annotation per tag (as the store itself is laid out). `lists`: (name, ManifestList)
    pairs, whose images are in `selected` untagged and appear only through their list."""
    dest.add_bytes("oci-layout", json.dumps({"imageLayoutVersion": mt.OCI_LAYOUT_VERSION}).encode())
    export_layer = LayerExporter(store, compression, dest, _blob_name, defer_in="blobs/sha256")
    written: set[str] = set()

    def blob(digest: str, data: bytes) -> None:
        if digest not in written:
            written.add(digest)
            dest.add_bytes(_blob_name(digest), data)

    exported, manifests = [], []
    for image, tags in selected:
        layers = [export_layer(layer, diff_id)
                  for layer, diff_id in zip(image.manifest.layers, image.diff_ids, strict=True)]
        img = ExportImage(image, tags, export_manifest(image, layers), tuple(layers))
        blob(img.config_digest, image.config_bytes)
        blob(img.manifest_digest, img.manifest_bytes)
        entry = {"mediaType": mt.OCI_MANIFEST, "digest": img.manifest_digest, "size": len(img.manifest_bytes),
                 "platform": {"architecture": image.platform.architecture, "os": image.platform.os}}
        if image.platform.variant:
            entry["platform"]["variant"] = image.platform.variant
        listed = not tags and any(image.manifest_digest in {m["digest"] for m in found.manifests}
                                  for _, found in lists)
        for tag in () if listed else tags or (None,):
            manifests.append({**entry, "annotations": {mt.ANNOTATION_REF_NAME: tag}} if tag else entry)
        manifests += _attestations(store, image, entry, blob)  # SBOM, provenance: artifacts with this subject
        exported.append(img)
    as_exported = {img.image.manifest_digest: img for img in exported}
    for name, found in lists:
        doc = found.doc
        doc["manifests"] = [{**m, "mediaType": mt.OCI_MANIFEST, "digest": as_exported[m["digest"]].manifest_digest,
                             "size": len(as_exported[m["digest"]].manifest_bytes)} for m in found.manifests]
        raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        blob(dg.of_bytes(raw), raw)
        manifests.append({"mediaType": mt.OCI_INDEX, "digest": dg.of_bytes(raw), "size": len(raw),
                          "annotations": {mt.ANNOTATION_REF_NAME: name}})
    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests}
    dest.add_bytes("index.json", json.dumps(index, indent=2).encode() + b"\n")
    return exported


def _attestations(store: Store, image, subject: dict, blob) -> list[dict]:
    """The image's attached artifacts, re-pointed at the manifest as exported; their
    index.json entries (no ref.name: `load` tells them from images by artifactType)."""
    from rootless_build.store import referrers

    out = []
    for entry in referrers.referrers(store, image.manifest_digest):
        manifest, data = referrers.read_artifact(store, entry)
        raw = referrers.artifact_manifest(subject, manifest.get("artifactType", ""),
                                          manifest["layers"][0]["mediaType"], data, manifest.get("annotations"))
        blob(dg.of_bytes(referrers.EMPTY_CONFIG), referrers.EMPTY_CONFIG)
        blob(dg.of_bytes(data), data)
        blob(dg.of_bytes(raw), raw)
        out.append(referrers.descriptor(raw))
    return out


def write_docker_archive(dest: Destination, store: Store, selected: Selected, compression: str) -> list[ExportImage]:
    """`docker save`'s classic layout, which both `docker load` and `podman load` read:
    <id>.json, <layer>/layer.tar, manifest.json [{Config, RepoTags, Layers}], repositories."""
    # Each layer sits in a directory named by its own digest, so none is streamed while it
    # is compressed (that directory's entry would have to be written afterwards too).
    export_layer = LayerExporter(store, compression, dest, _layer_tar_name)
    exported, manifest, repositories, written = [], [], {}, set()
    for image, tags in selected:
        layers = [export_layer(layer, diff_id)
                  for layer, diff_id in zip(image.manifest.layers, image.diff_ids, strict=True)]
        layer_names = [_layer_tar_name(d.digest) for d in layers]
        config_name = f"{_hex(image.id)}.json"
        if config_name not in written:
            written.add(config_name)
            dest.add_bytes(config_name, image.config_bytes)
        exported.append(ExportImage(image, tags, export_manifest(image, layers), tuple(layers)))
        manifest.append({"Config": config_name, "RepoTags": list(tags) or None, "Layers": layer_names})
        for tag in tags:
            repo, tag_part = repository_and_tag(tag)
            repositories.setdefault(repo, {})[tag_part] = _hex(image.id)
    dest.add_bytes("manifest.json", json.dumps(manifest).encode())
    if repositories:
        dest.add_bytes("repositories", json.dumps(repositories).encode())
    return exported
