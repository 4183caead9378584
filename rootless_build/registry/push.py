"""Push: compress the layers stored uncompressed (the compressed variant is remembered),
send every blob the registry lacks (in parallel), then the manifest, last."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rootless_build.errors import UsageError
from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.oci.models import Descriptor
from rootless_build.oci.reference import Reference
from rootless_build.registry import conf as registries_conf
from rootless_build.registry import locations
from rootless_build.registry.client import Repository
from rootless_build.registry.options import RegistryOptions
from rootless_build.registry.progress import NoProgress, Progress
from rootless_build.registry.referrers import push_attached
from rootless_build.registry.resolve import push_target
from rootless_build.registry.signatures import Signer, SignOptions
from rootless_build.registry.transport import Connections
from rootless_build.registry.upload import blob_path, upload_blob
from rootless_build.store import Image, Store

JOBS = 3  # as docker's max-concurrent-uploads... which is 5; 3 suits small machines


@dataclass(frozen=True)
class PushResult:
    reference: Reference    # where it went (fully qualified, with the tag)
    digest: str             # the manifest's digest, as the registry now knows it
    size: int               # the manifest's size in bytes


def push(store: Store, source: str, dest: str | None = None, *, options: RegistryOptions | None = None,
         compression: str = "gzip", progress: Progress | None = None,
         conf: registries_conf.RegistriesConf | None = None, connections: Connections | None = None,
         chunk_size: int | None = None, jobs: int = JOBS, sign: SignOptions | None = None) -> PushResult:
    """Push the stored image `source` to `dest` (default: its own name). `compression`
    is a store.variants.compression_name() spec (gzip, zstd, zstd:chunked, +LEVEL)."""
    from rootless_build.store.variants import media_compression

    if not media_compression(compression):
        raise UsageError("push needs compressed layers: choose gzip, zstd or zstd:chunked")
    progress = progress or NoProgress()
    conf = conf if conf is not None else registries_conf.load()
    connections = connections or Connections(options)
    image = store.resolve(source)
    target = push_target(dest or source, conf)
    ref = target.ref
    signer = Signer(sign, options, f"{ref.name}:{ref.tag or 'latest'}") if sign else None
    repo = Repository(connections.get(ref.registry, target.insecure), ref.repository, push=True)
    progress.message(f"The push refers to repository [{ref.name}]")
    with store.writing():
        layers = _push_blobs(store, repo, image, compression, progress, chunk_size, jobs)
        raw, media_type = manifest_for(image, layers, media_compression(compression))
        if signer is not None:
            signer.prepare(repo, dg.of_bytes(raw))  # the signature's blobs go up beside the manifest
            signer.ready()  # the key unlocked while the blobs went up (or the push stops here)
        digest = repo.put_manifest(ref.tag or "latest", raw, media_type)
        if dg.of_bytes(raw) != digest:
            digest = dg.of_bytes(raw)  # what we sent is what a pull by digest will verify
        locations.remember(store, [image.manifest.config.digest, *(layer.digest for layer in layers)],
                           ref.registry, ref.repository)
    if signer is not None:
        progress.message("Signing manifest")
        signer.sign_pushed(repo, digest)
    with store.writing():  # SBOM and provenance, re-pointed at the manifest as pushed
        push_attached(store, repo, image.manifest_digest, {"mediaType": media_type, "digest": digest, "size": len(raw)})
    progress.items_done()
    progress.message(f"{ref.tag}: digest: {digest} size: {len(raw)}")
    return PushResult(ref, digest, len(raw))


def push_list(store: Store, manifest_list, dest: str, *, options: RegistryOptions | None = None,
              compression: str = "gzip", progress: Progress | None = None,
              conf: registries_conf.RegistriesConf | None = None, chunk_size: int | None = None,
              jobs: int = JOBS) -> PushResult:
    """Push a stored manifest list (store.lists.ManifestList) to `dest` with all its images:
    each image by digest first, then the index naming them as pushed (a compressed layer
    changes an image's manifest digest, so the index is rewritten to match)."""
    from rootless_build.store.lists import list_images
    from rootless_build.store.variants import media_compression

    if not media_compression(compression):
        raise UsageError("push needs compressed layers: choose gzip, zstd or zstd:chunked")
    progress = progress or NoProgress()
    conf = conf if conf is not None else registries_conf.load()
    connections = Connections(options)
    ref = push_target(dest, conf).ref
    target = push_target(dest, conf)
    repo = Repository(connections.get(ref.registry, target.insecure), ref.repository, push=True)
    progress.message(f"The push refers to repository [{ref.name}]")
    doc = manifest_list.doc
    entries = []
    with store.writing():
        for entry, image in zip(manifest_list.manifests, list_images(store, manifest_list), strict=False):
            layers = _push_blobs(store, repo, image, compression, progress, chunk_size, jobs)
            raw, media_type = manifest_for(image, layers, media_compression(compression))
            digest = dg.of_bytes(raw)
            repo.put_manifest(digest, raw, media_type)
            locations.remember(store, [image.manifest.config.digest, *(layer.digest for layer in layers)],
                               ref.registry, ref.repository)
            entries.append({**entry, "mediaType": media_type, "digest": digest, "size": len(raw)})
        doc["manifests"] = entries
        raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        repo.put_manifest(ref.tag or "latest", raw, doc.get("mediaType") or mt.OCI_INDEX)
    digest = dg.of_bytes(raw)
    progress.items_done()
    progress.message(f"{ref.tag}: digest: {digest} size: {len(raw)}")
    return PushResult(ref, digest, len(raw))


def _push_blobs(store: Store, repo: Repository, image: Image, compression: str, progress: Progress,
                chunk_size: int | None, jobs: int) -> list[Descriptor]:
    """Upload config and layers; the layer descriptors as pushed, in manifest order."""
    from rootless_build.store.variants import compressed_layer

    host = repo.transport.host
    cancel = threading.Event()

    def send(desc: Descriptor, shown: bool) -> Descriptor:
        key = dg.short_id(desc.digest)
        shown_progress = progress if shown else NoProgress()
        if shown and not mt.layer_compression(desc.media_type):
            shown_progress.item(key, "Preparing")
            desc = compressed_layer(store, desc, compression)
        path = blob_path(store.blobs, desc.digest)
        status = upload_blob(repo, path, desc, progress=shown_progress, key=key,
                             mount_from=locations.repositories_on(store, desc.digest, host), chunk_size=chunk_size,
                             cancel=cancel)
        shown_progress.item(key, status)
        return desc

    layers = image.manifest.layers
    for desc in layers:
        progress.item(dg.short_id(desc.digest), "Preparing")
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="push")
    try:
        pushed = [pool.submit(send, desc, True) for desc in layers]
        config = pool.submit(send, image.manifest.config, False)
        results = [f.result() for f in pushed]
        config.result()
    except BaseException:  # a failed upload, or Ctrl-C: the others stop sending
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # after a failure, start nothing new
    return results


def manifest_for(image: Image, layers: list[Descriptor], compression: str) -> tuple[bytes, str]:
    """The manifest to push: the stored bytes when no layer changed (same digest as stored),
    else a copy naming the compressed layers (docker types kept unless zstd needs OCI)."""
    media_type = image.media_type
    if all(a.digest == b.digest for a, b in zip(layers, image.manifest.layers, strict=False)):
        return image.manifest_bytes, media_type
    doc = json.loads(image.manifest_bytes)
    docker = media_type == mt.DOCKER_MANIFEST
    if docker and compression == "zstd":  # Docker schema 2 has no zstd: switch to OCI types
        docker = False
        doc["mediaType"] = media_type = mt.OCI_MANIFEST
        doc["config"]["mediaType"] = mt.OCI_CONFIG
    for entry, pushed in zip(doc["layers"], layers, strict=False):
        if entry["digest"] != pushed.digest:
            kind = mt.layer_compression(pushed.media_type)
            entry["mediaType"] = mt.docker_layer_type(kind) if docker else mt.oci_layer_type(kind)
            entry["digest"] = pushed.digest
            entry["size"] = pushed.size
            if pushed.annotations:  # zstd:chunked: where its table of contents is
                entry["annotations"] = {**entry.get("annotations", {}), **pushed.annotations}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode(), media_type
