"""`load`: an oci-archive, docker-archive (either maybe gzip/zstd/xz-compressed) or an OCI
directory into the store. Files are staged and checked first; the store changes only
when everything verified, so a truncated or corrupt archive leaves it as it was."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rootless_build.archive.sources import FoundImage, read_images
from rootless_build.archive.staging import ArchiveError, DirMembers, TarMembers, open_any
from rootless_build.errors import RootlessBuildError
from rootless_build.oci import mediatypes as mt
from rootless_build.oci.models import Descriptor
from rootless_build.store import Image, Store, names


@dataclass(frozen=True)
class Loaded:
    image: Image
    names: tuple[str, ...]  # tags given in the store; empty: loaded by ID only


def load(store: Store, source: str | os.PathLike | None, stream: BinaryIO | None = None) -> list[Loaded]:
    """Load from a path (file or OCI directory) or, with source None, from `stream`."""
    with store.writing(), store.temp_dir("load-") as staging:
        label = str(source) if source is not None else "stdin"
        if source is not None and Path(source).is_dir():
            members = DirMembers(Path(source), staging)
            found = read_images(members)
        elif source is not None:
            try:
                archive = open(source, "rb")
            except FileNotFoundError:
                raise ArchiveError(f"{source}: no such file or directory") from None
            with archive:
                found = read_images(TarMembers(open_any(archive, label), staging, label))
        else:
            found = read_images(TarMembers(open_any(stream, label), staging, label))
        images = [(_commit(store, f), f) for f in found]
        for image, f in images:
            _attach(store, image, f)
    return [Loaded(image, _tag(store, image, f)) for image, f in images]


def _commit(store: Store, found: FoundImage) -> Image:
    for staged in found.layers:
        if not store.blobs.has(staged.digest):
            store.blobs.adopt(staged.path, staged.digest, fsync=True)
    if found.manifest_bytes is not None:
        store.blobs.put_bytes(found.config_bytes)
        return store.add_manifest(found.manifest_bytes)
    layers = [Descriptor(mediaType=mt.OCI_LAYER, digest=s.digest, size=s.size) for s in found.layers]
    return store.write_image(found.config_bytes, layers)


def _attach(store: Store, image: Image, found: FoundImage) -> None:
    """Its SBOM and provenance, re-pointed at the manifest as stored."""
    if not found.attestations:
        return
    from rootless_build.store import referrers

    for manifest, data in found.attestations:
        referrers.attach(store, referrers.subject_of(image), manifest.get("artifactType", ""),
                          manifest["layers"][0]["mediaType"],
                         data, manifest.get("annotations"))


def _tag(store: Store, image: Image, found: FoundImage) -> tuple[str, ...]:
    given = []
    for name in found.names:
        try:
            normalized = names.normalize(name)
        except RootlessBuildError:
            continue  # e.g. a bare OCI ref.name that is no image name: load it by ID
        store.tag(image, normalized)
        given.append(normalized)
    if not given:
        store.add_untagged(image)
    return tuple(given)
