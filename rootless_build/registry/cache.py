"""A build cache shared through a registry (build --cache-to / --cache-from).

The cache is one OCI artifact, REPO:TAG (tag "buildcache" unless given): an image
manifest whose config (application/vnd.rootless-build.cache.config.v1+json) maps

    steps:  cache key -> the manifest digest of the image that step produced
    layers: uncompressed layer digest -> the compressed blob that carries it

and whose `layers` list every blob those need (step manifests and configs, compressed
layers), so the registry keeps them and `skopeo inspect --raw` shows them all. Step images
keep their exact manifest bytes (the next step's key names them), with local layers
uncompressed; another store brings a step in only when its build reaches that key,
fetching just the missing blobs (decompressed and checked against their diff digest).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from rootless_build.errors import RegistryError
from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.oci.models import Descriptor, parse_manifest
from rootless_build.oci.reference import Reference
from rootless_build.registry import conf as registries_conf
from rootless_build.registry import locations
from rootless_build.registry.client import Repository
from rootless_build.registry.download import download_blob
from rootless_build.registry.errors import RegistryNotFound
from rootless_build.registry.limits import MAX_CONFIG, read_limited
from rootless_build.registry.options import RegistryOptions
from rootless_build.registry.progress import NoProgress, Progress
from rootless_build.registry.resolve import push_target
from rootless_build.registry.transport import Connections
from rootless_build.registry.upload import blob_path, upload_blob
from rootless_build.store import Image, Store

ARTIFACT_TYPE = "application/vnd.rootless-build.cache.v1"
CONFIG_TYPE = "application/vnd.rootless-build.cache.config.v1+json"
BLOB_TYPE = "application/octet-stream"  # step configs, as plain blobs of the artifact
DEFAULT_TAG = "buildcache"


@dataclass
class CacheIndex:
    steps: dict[str, str] = field(default_factory=dict)          # key -> step manifest digest
    layers: dict[str, dict] = field(default_factory=dict)        # uncompressed -> {digest,size,mediaType}
    blobs: dict[str, Descriptor] = field(default_factory=dict)   # every blob the artifact lists

    def config_bytes(self) -> bytes:
        doc = {"version": 1, "steps": self.steps, "layers": self.layers}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def cache_reference(text: str) -> str:
    """REGISTRY/REPO[:TAG] with the default tag "buildcache"."""
    has_tag = ":" in text.rpartition("/")[2]
    return text if has_tag or "@" in text else f"{text}:{DEFAULT_TAG}"


class _Remote:
    def __init__(self, ref_text: str, options: RegistryOptions | None, conf, connections: Connections | None):
        conf = conf if conf is not None else registries_conf.load()
        target = push_target(cache_reference(ref_text), conf)
        self.ref: Reference = target.ref
        self.connections = connections or Connections(options)
        self.transport = self.connections.get(self.ref.registry, target.insecure)

    def repo(self, push: bool) -> Repository:
        return Repository(self.transport, self.ref.repository, push=push)

    def read_index(self, repo: Repository) -> CacheIndex:
        """The cache as the registry has it now; empty when there is none yet."""
        try:
            raw, _, _ = repo.get_manifest(self.ref.tag)
        except RegistryNotFound:
            return CacheIndex()
        manifest = parse_manifest(raw)
        if manifest.artifact_type != ARTIFACT_TYPE or manifest.config.media_type != CONFIG_TYPE:
            raise RegistryError(f"{self.ref} is not a rootless-build cache")
        resp = repo.open_blob(manifest.config.digest)
        with resp:
            config = read_limited(resp, min(manifest.config.size, MAX_CONFIG), f"reading the cache index {self.ref}")
        if dg.of_bytes(config) != manifest.config.digest:
            raise RegistryError(f"{self.ref}: the cache index does not match its digest")
        doc = json.loads(config)
        return CacheIndex(dict(doc.get("steps") or {}), dict(doc.get("layers") or {}),
                          {d.digest: d for d in manifest.layers})


def export_cache(store: Store, ref_text: str, steps: dict[str, Image], *, compression: str = "gzip",
                 options: RegistryOptions | None = None, progress: Progress | None = None,
                 conf: registries_conf.RegistriesConf | None = None,
                 connections: Connections | None = None) -> str:
    """Push each step's image under its cache key, merged into what the cache already
    holds; returns the cache manifest's digest."""
    from rootless_build.store.variants import compressed_layer

    progress = progress or NoProgress()
    remote = _Remote(ref_text, options, conf, connections)
    repo = remote.repo(push=True)
    index = remote.read_index(repo)
    with store.writing():
        to_send: dict[str, Descriptor] = {}
        for key, image in steps.items():
            index.steps[key] = image.manifest_digest
            to_send[image.manifest_digest] = Descriptor(mediaType=image.manifest.media_type or mt.OCI_MANIFEST,
                                                        digest=image.manifest_digest, size=len(image.manifest_bytes))
            to_send[image.id] = Descriptor(mediaType=BLOB_TYPE, digest=image.id, size=len(image.config_bytes))
            for layer in image.manifest.layers:
                if mt.layer_compression(layer.media_type):
                    carrier = layer  # pulled layers travel as they are
                else:
                    carrier = compressed_layer(store, layer, compression)
                index.layers[layer.digest] = {"digest": carrier.digest, "size": carrier.size,
                                              "mediaType": carrier.media_type}
                to_send[carrier.digest] = carrier
        host = remote.ref.registry
        for desc in to_send.values():
            key = dg.short_id(desc.digest)
            status = upload_blob(repo, blob_path(store.blobs, desc.digest), desc, progress=progress, key=key,
                                 mount_from=locations.repositories_on(store, desc.digest, host))
            progress.item(key, status)
        index.blobs.update(to_send)
        config = index.config_bytes()
        config_desc = Descriptor(mediaType=CONFIG_TYPE, digest=dg.of_bytes(config), size=len(config))
        _upload_bytes(repo, config, config_desc)
        manifest = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "artifactType": ARTIFACT_TYPE,
                    "config": _plain(config_desc),
                    "layers": [_plain(d) for d in sorted(index.blobs.values(), key=lambda d: d.digest)]}
        raw = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        digest = repo.put_manifest(remote.ref.tag, raw, mt.OCI_MANIFEST)
        locations.remember(store, list(to_send), host, remote.ref.repository)
    progress.items_done()
    return digest


class RemoteCache:
    """The cache of REGISTRY/REPO, read once; `fetch(key)` brings one step into the store."""

    def __init__(self, store: Store, ref_text: str, *, options: RegistryOptions | None = None,
                 progress: Progress | None = None, conf: registries_conf.RegistriesConf | None = None,
                 connections: Connections | None = None):
        self.store = store
        self.progress = progress or NoProgress()
        self._remote = _Remote(ref_text, options, conf, connections)
        self._repo = self._remote.repo(push=False)
        self.index = self._remote.read_index(self._repo)

    @property
    def reference(self) -> Reference:
        return self._remote.ref

    def __contains__(self, key: str) -> bool:
        return key in self.index.steps

    def fetch(self, key: str) -> Image | None:
        """The step image for `key` in the store (blobs fetched as needed), or None when
        the cache does not know the key. The caller records it in its local cache."""
        digest = self.index.steps.get(key)
        if digest is None:
            return None
        store = self.store
        with store.writing():
            raw = self._small_blob(digest)
            manifest = parse_manifest(raw)
            self._small_blob(manifest.config.digest)
            for layer in manifest.layers:
                if not store.blobs.has(layer.digest):
                    self._fetch_layer(layer)
            image = store.add_manifest(raw)
        return image

    def _small_blob(self, digest: str) -> bytes:
        if not self.store.blobs.has(digest):
            desc = self.index.blobs.get(digest)
            if desc is None:
                raise RegistryError(f"{self.reference}: the cache lists no blob {digest}")
            download_blob(self._repo, self.store, desc, progress=NoProgress(), key=dg.short_id(digest),
                          backoff=self._repo.transport.backoff)
        return self.store.blobs.read(digest)

    def _fetch_layer(self, layer: Descriptor) -> None:
        carrier = self.index.layers.get(layer.digest)
        if carrier is None:
            raise RegistryError(f"{self.reference}: the cache has no blob for layer {layer.digest}")
        desc = Descriptor(mediaType=carrier["mediaType"], digest=carrier["digest"], size=carrier["size"])
        key = dg.short_id(layer.digest)
        if not self.store.blobs.has(desc.digest):
            self.progress.item(key, "Downloading", desc.size)
            download_blob(self._repo, self.store, desc, progress=self.progress, key=key,
                          backoff=self._repo.transport.backoff)
        if desc.digest != layer.digest:
            _decompress_into_store(self.store, desc, layer)
        self.progress.item(key, "Pull complete")
        locations.remember(self.store, [desc.digest], self.reference.registry, self.reference.repository)


def _decompress_into_store(store: Store, compressed: Descriptor, layer: Descriptor) -> None:
    """Store the uncompressed tar the step manifest names (checked against its digest and
    size), and remember the compressed blob as its variant so a push need not recompress."""
    from rootless_build.errors import BlobCorrupt
    from rootless_build.layers.compression import open_uncompressed
    from rootless_build.store.roots import VARIANTS
    from rootless_build.store.variants import variant_key

    try:
        with store.blobs.open(compressed.digest) as src, open_uncompressed(src) as tar, \
                store.blobs.writer(layer.digest, layer.size) as out:
            while chunk := tar.read(1 << 20):
                out.write(chunk)
            out.commit()
    except BlobCorrupt as e:
        raise RegistryError(f"cache layer {compressed.digest} does not hold {layer.digest}: {e}") from None
    compression = mt.layer_compression(compressed.media_type)
    store.put_record(VARIANTS, variant_key(layer.digest, compression),
                     {"source": layer.digest, "digest": compressed.digest, "size": compressed.size,
                      "mediaType": compressed.media_type})


def _upload_bytes(repo: Repository, data: bytes, desc: Descriptor) -> None:
    if repo.has_blob(desc.digest):
        return
    location = repo.start_upload()
    repo.finish_upload(location, desc.digest, body=data, length=len(data))


def _plain(desc: Descriptor) -> dict:
    return {"mediaType": desc.media_type, "digest": desc.digest, "size": desc.size}
