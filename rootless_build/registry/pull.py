"""Pull: resolve a name, fetch its manifest (choosing a platform from an index), download
the missing blobs in parallel, then store the manifest and tag it: in that order, so an
interrupted pull leaves nothing half-referenced."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from rootless_build.errors import RegistryError
from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.oci import platform as platforms
from rootless_build.oci import validate
from rootless_build.oci.models import Descriptor, sniff_media_type
from rootless_build.oci.reference import Reference
from rootless_build.registry import conf as registries_conf
from rootless_build.registry import locations, verify
from rootless_build.registry.client import Repository
from rootless_build.registry.download import Cancelled, download_blob
from rootless_build.registry.errors import RegistryAuthError, RegistryNotFound
from rootless_build.registry.options import RegistryOptions
from rootless_build.registry.progress import NoProgress, Progress
from rootless_build.registry.referrers import list_referrers, pull_attached
from rootless_build.registry.resolve import Candidate, Source, pull_candidates
from rootless_build.registry.signatures import enforce as enforce_policy
from rootless_build.registry.transport import Connections
from rootless_build.store import Image, Store
from rootless_build.store.names import normalize
from rootless_build.store.roots import PULLED_INDEXES

JOBS = 3  # blobs fetched at once, as docker's max-concurrent-downloads
_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.v1+prettyjws")


@dataclass(frozen=True)
class PullResult:
    image: Image
    name: Reference        # the fully qualified name the image is stored under
    digest: str            # the digest the registry knows it by (an index's, for a list)
    downloaded: bool       # something new entered the store (docker's "Downloaded newer image")


@dataclass(frozen=True)
class _Found:
    name: Reference
    source: Source
    repo: Repository
    raw: bytes
    media_type: str
    digest: str


def pull(store: Store, text: str, *, options: RegistryOptions | None = None, platform: str | None = None,
         progress: Progress | None = None, conf: registries_conf.RegistriesConf | None = None,
         connections: Connections | None = None, jobs: int = JOBS) -> PullResult:
    """Pull `text` (a tag or digest reference, short or fully qualified) into the store."""
    progress = progress or NoProgress()
    conf = conf if conf is not None else registries_conf.load()
    connections = connections or Connections(options)
    wanted = platforms.parse(platform)
    candidates = pull_candidates(text, conf)
    if not _has_tag_or_digest(text):
        progress.message("Using default tag: latest")
    found = find_manifest(candidates, connections)
    raw, digest = found.raw, found.digest
    image_name = str(found.name)
    enforce_policy(found.repo, str(found.name), digest, options)
    if found.media_type in mt.INDEXES:
        index = validate.index(raw, image_name)
        choice = platforms.choose(index, wanted, image_name)
        raw, _, _ = found.repo.get_manifest(choice.digest)
    elif found.media_type in _SCHEMA1:
        raise RegistryError(f"{found.name}: Docker schema 1 manifests are not supported; push the image again "
                            f"with a current tool")
    manifest = validate.manifest(raw, image_name)
    ref = found.source.ref
    progress.message(f"{ref.tag or ref.digest}: Pulling from {found.repo.name}")
    # Nothing is stored before the config is valid and names one diff_id per layer.
    config_raw = verify.fetch_config(store, found.repo, manifest.config, image_name)
    diff_ids = validate.layer_count(validate.image_config(config_raw, image_name), manifest.layers, image_name)
    manifest_digest = dg.of_bytes(raw)
    # Its attestations are listed while the layers download: on a registry without the
    # referrers API that is two round trips (API, then the tag fallback) off the pull's time.
    lister = ThreadPoolExecutor(max_workers=1, thread_name_prefix="referrers")
    listing = lister.submit(list_referrers, found.repo, manifest_digest)
    try:
        with store.writing():
            new = not store.blobs.has(manifest_digest)
            _fetch_layers(store, found.repo, manifest.layers, diff_ids, image_name, progress, jobs)
            store.blobs.put_bytes(config_raw)
            if found.media_type in mt.INDEXES:
                store.blobs.put_bytes(found.raw)  # lets a later lookup by the list's digest work offline
            image = store.add_manifest(raw)
            name = found.name
            tags = ()
            if name.tag:
                tag = str(Reference(name.registry, name.repository, name.tag))
                new = _tag_changes(store, tag, image.manifest_digest) or new
                store.tag(image, tag)
                tags = (normalize(tag),)
                if found.media_type in mt.INDEXES:  # the other platforms' images stay findable
                    store.put_record(PULLED_INDEXES, normalize(tag), {"index": found.digest})
            else:
                store.add_untagged(image)
            locations.remember(store, [manifest.config.digest, *(layer.digest for layer in manifest.layers)],
                               found.source.ref.registry, found.repo.name)
            try:
                pull_attached(store, found.repo, manifest_digest, listing.result())  # its SBOM and provenance
            except RegistryError as e:
                progress.message(f"Warning: attestations not pulled: {e}")
    finally:
        # joined once done: a build enters its user namespace in place only while no other
        # thread runs (sandbox.userns); after an error it is left to finish on its own
        lister.shutdown(wait=listing.done(), cancel_futures=True)
    progress.items_done()
    progress.message(f"Digest: {digest}")
    shown = normalize(text)
    progress.message(f"Status: Downloaded newer image for {shown}" if new
                     else f"Status: Image is up to date for {shown}")
    return PullResult(store.load_image(image.manifest_digest, tags), name, digest, new)


def find_manifest(candidates: list[Candidate], connections: Connections) -> _Found:
    """The first candidate and source that has the manifest; every failure if none does."""
    failures: list[RegistryError] = []
    for cand in candidates:
        for source in cand.sources:
            transport = connections.get(source.ref.registry, source.insecure)
            repo = Repository(transport, source.ref.repository)
            reference = source.ref.digest or source.ref.tag or "latest"
            try:
                raw, media_type, digest = repo.get_manifest(reference)
            except RegistryError as e:
                failures.append(e)
                continue
            if media_type not in mt.MANIFESTS + mt.INDEXES + _SCHEMA1:
                media_type = sniff_media_type(raw)
            return _Found(cand.name, source, repo, raw, media_type, digest)
    if len(failures) == 1:
        raise failures[0]
    summary = "; ".join(str(e) for e in failures)
    first = failures[0]
    kind = RegistryAuthError if all(isinstance(e, RegistryAuthError) for e in failures) else (
        RegistryNotFound if all(isinstance(e, RegistryNotFound) for e in failures) else RegistryError)
    raise kind(f"{candidates[0].name.repository}: not found in any registry tried: {summary}",
               code=first.code, status=first.status)


def _fetch_layers(store: Store, repo: Repository, layers: list[Descriptor], diff_ids: list[str], image: str,
                  progress: Progress, jobs: int) -> None:
    """Every layer in the store, each checked against its diff_id before it is kept."""
    todo: dict[str, tuple[int, Descriptor]] = {}
    for n, desc in enumerate(layers):
        key = dg.short_id(desc.digest)
        if store.blobs.has(desc.digest):
            validate.diff_id(n, verify.known_diff_id(store, desc), diff_ids[n], image, desc)
            progress.item(key, "Already exists")
        elif desc.digest in todo:
            # the same blob twice: it can uncompress to only one diff_id
            validate.diff_id(n, diff_ids[todo[desc.digest][0]], diff_ids[n], image, desc)
        else:
            progress.item(key, "Pulling fs layer", desc.size)
            todo[desc.digest] = (n, desc)
    if not todo:
        return
    cancel = threading.Event()
    backoff = repo.transport.backoff

    def fetch(n: int, desc: Descriptor) -> None:
        key = dg.short_id(desc.digest)
        progress.item(key, "Downloading", desc.size)
        stream = verify.DiffIdStream(n, diff_ids[n], image, desc)
        try:
            download_blob(repo, store, desc, progress=progress, key=key, backoff=backoff, cancel=cancel,
                          content=stream)
        finally:
            stream.close()
        verify.note_diff_id(store, desc.digest, diff_ids[n])
        progress.item(key, "Download complete")
        progress.item(key, "Pull complete")

    # Small blobs first, so the big ones do not hold them up.
    ordered = sorted(todo.values(), key=lambda item: item[1].size)
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="pull") as pool:
        futures = [pool.submit(fetch, n, desc) for n, desc in ordered]
        try:
            for future in as_completed(futures):
                exc = future.exception()
                if exc is not None and not isinstance(exc, Cancelled):
                    raise exc
        except BaseException:  # a failed blob, or Ctrl-C: the others stop at their next chunk
            cancel.set()
            for other in futures:
                other.cancel()
            raise


def _tag_changes(store: Store, tag: str, digest: str) -> bool:
    """True when `tag` pointed elsewhere (or nowhere) before this pull."""
    from rootless_build.store import layout

    wanted = normalize(tag)
    return not any(layout.ref_name(e) == wanted and e["digest"] == digest for e in store.entries())


def _has_tag_or_digest(text: str) -> bool:
    return "@" in text or ":" in text.rpartition("/")[2]
