"""Read the images an archive holds, from its staged files: an OCI layout (oci-archive,
oci-dir) or `docker save`'s manifest.json. Everything is checked here, before the store
changes: digests, sizes, and every layer against the config's diff_ids."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from rootless_build.archive.staging import ArchiveError, Staged, read_document
from rootless_build.errors import RootlessBuildError
from rootless_build.layers.tarreader import scan_file
from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.oci import platform, reference, validate
from rootless_build.oci.models import Manifest, sniff_media_type

# containerd and docker 25 put the full name here; ref.name may then be only the tag
_CONTAINERD_NAME = "io.containerd.image.name"


class Members(Protocol):
    label: str

    def names(self) -> set[str]: ...
    def get(self, name: str) -> Staged | None: ...


@dataclass(frozen=True)
class FoundImage:
    names: tuple[str, ...]
    config_bytes: bytes
    layers: tuple[Staged, ...]  # uncompressed content, in order
    manifest_bytes: bytes | None  # kept as is when the layers need no rewriting
    # Artifacts whose subject is this image (SBOM, provenance): (artifact manifest, its layer).
    attestations: tuple[tuple[dict, bytes], ...] = ()

    @property
    def id(self) -> str:
        return dg.of_bytes(self.config_bytes)


def read_images(members: Members) -> list[FoundImage]:
    names = members.names()
    if "manifest.json" in names:
        return _docker_images(members)
    if "index.json" in names:
        return _oci_images(members)
    raise ArchiveError(f"{members.label}: neither an OCI layout (index.json) nor a docker archive (manifest.json)")


def _document(members: Members, name: str, what: str) -> bytes:
    staged = members.get(name)
    if staged is None:
        raise ArchiveError(f"{members.label}: {what} ({name}) is missing from the archive")
    return read_document(staged, what)


def _blob(members: Members, digest: str, size: int | None, what: str) -> Staged:
    algo, hexpart = dg.parse(digest)
    staged = members.get(f"blobs/{algo}/{hexpart}")
    if staged is None:
        raise ArchiveError(f"{members.label}: {what} {digest} is missing from the archive")
    if size is not None and staged.raw_size != size:
        raise ArchiveError(f"{members.label}: {what} {digest} has {staged.raw_size} bytes, the manifest says {size}")
    return staged


# -- OCI layout ------------------------------------------------------------------------


def _oci_images(members: Members) -> list[FoundImage]:
    try:
        index = validate.index(_document(members, "index.json", "index.json"), "index.json")
        found: dict[str, tuple[list[str], Manifest, bytes]] = {}
        attached: dict[str, list[tuple[dict, bytes]]] = {}
        for desc in index.manifests:
            if desc.artifact_type:
                _collect_artifact(members, desc, attached)
                continue
            annotations = desc.annotations or {}
            name = annotations.get(_CONTAINERD_NAME) or annotations.get(mt.ANNOTATION_REF_NAME)
            image = f"image {name or desc.digest}"
            manifest_desc = _platform_manifest(members, desc)
            raw = read_document(_blob(members, manifest_desc.digest, manifest_desc.size, "manifest"), "manifest")
            entry = found.setdefault(manifest_desc.digest, ([], validate.manifest(raw, image), raw))
            if name and name not in entry[0]:
                entry[0].append(name)
        return [_image_from_manifest(members, manifest, raw, tuple(names), tuple(attached.get(digest, ())))
                for digest, (names, manifest, raw) in found.items()]
    except RootlessBuildError as e:
        if isinstance(e, ArchiveError):
            raise
        raise ArchiveError(f"{members.label}: {e}") from None


def _platform_manifest(members: Members, desc, depth: int = 0):
    """A manifest descriptor, through nested indexes, choosing the host's platform."""
    if desc.media_type in mt.MANIFESTS:
        return desc
    if desc.media_type not in mt.INDEXES or depth > 4:
        raise ArchiveError(f"{members.label}: unsupported entry {desc.digest} of type {desc.media_type}")
    raw = read_document(_blob(members, desc.digest, desc.size, "image index"), "image index")
    child = validate.index(raw, f"image index {desc.digest}")
    wanted = platform.host()
    for candidate in child.manifests:
        p = candidate.platform
        if candidate.media_type in mt.INDEXES or (
                p is not None and platform.matches(wanted, p.os, p.architecture, p.variant)):
            return _platform_manifest(members, candidate, depth + 1)
    offered = ", ".join(str(d.platform) for d in child.manifests if d.platform)
    raise ArchiveError(f"{members.label}: no image for {wanted} in the archive (it has: {offered or 'none'})")


def _collect_artifact(members: Members, desc, attached: dict[str, list[tuple[dict, bytes]]]) -> None:
    """An attestation entry (save writes them beside their image): kept for its subject."""
    raw = read_document(_blob(members, desc.digest, desc.size, "artifact manifest"), "artifact manifest")
    try:
        doc = json.loads(raw)
        layers, subject = doc.get("layers"), (doc.get("subject") or {}).get("digest")
    except (ValueError, AttributeError):
        raise ArchiveError(f"{members.label}: artifact manifest {desc.digest} is not a JSON object") from None
    if not subject or not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
        return  # an artifact that is no attestation of ours: not an image either
    data = read_document(_blob(members, layers[0].get("digest", ""), layers[0].get("size"), "artifact"), "artifact")
    attached.setdefault(subject, []).append((doc, data))


def _image_from_manifest(members: Members, manifest: Manifest, raw: bytes, names: tuple[str, ...],
                         attestations: tuple[tuple[dict, bytes], ...] = ()) -> FoundImage:
    if sniff_media_type(raw) not in mt.MANIFESTS:
        raise ArchiveError(f"{members.label}: {dg.of_bytes(raw)} is not an image manifest")
    config = read_document(_blob(members, manifest.config.digest, manifest.config.size, "config"), "config")
    layers = tuple(_blob(members, d.digest, d.size, "layer") for d in manifest.layers)
    _check_diff_ids(members, config, layers, f"image {names[0] if names else manifest.config.digest}")
    # The manifest stays byte-identical when the layers are already what the store keeps.
    keep = all(not staged.compression and not mt.layer_compression(desc.media_type)
               for staged, desc in zip(layers, manifest.layers, strict=True))
    return FoundImage(names, config, layers, raw if keep else None, attestations)


# -- docker save -----------------------------------------------------------------------


def _docker_images(members: Members) -> list[FoundImage]:
    raw = _document(members, "manifest.json", "manifest.json")
    try:
        entries = json.loads(raw)
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ValueError("not a list of objects")
    except ValueError as e:
        raise ArchiveError(f"{members.label}: manifest.json is malformed: {e}") from None
    images = []
    for n, entry in enumerate(entries):
        tags = _repo_tags(members, entry.get("RepoTags"), n)
        config = _docker_member(members, entry.get("Config"), "config")
        layer_names = entry.get("Layers") or []
        if not isinstance(layer_names, list):
            raise ArchiveError(f"{members.label}: manifest.json: {n}.Layers: not a list")
        layers = tuple(_docker_member(members, name, "layer") for name in layer_names)
        config_bytes = read_document(config, "config")
        _check_diff_ids(members, config_bytes, layers, f"image {tags[0] if tags else entry.get('Config')}")
        images.append(FoundImage(tags, config_bytes, layers, None))
    return images


def _repo_tags(members: Members, tags, n: int) -> tuple[str, ...]:
    """RepoTags must be image names, as `docker load` insists (it parses each one)."""
    if tags is None:
        return ()
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ArchiveError(f"{members.label}: manifest.json: {n}.RepoTags: not a list of names")
    for tag in tags:
        try:
            reference.parse(tag)
        except RootlessBuildError as e:
            raise ArchiveError(f"{members.label}: manifest.json: {n}.RepoTags: {tag!r}: {e}") from None
    return tuple(tags)


def _docker_member(members: Members, name, what: str) -> Staged:
    if not isinstance(name, str) or not name:
        raise ArchiveError(f"{members.label}: manifest.json names no {what}")
    staged = members.get(name)
    if staged is None:
        raise ArchiveError(f"{members.label}: {what} {name} is missing from the archive")
    return staged


# -- shared ----------------------------------------------------------------------------


def _check_diff_ids(members: Members, config_bytes: bytes, layers: tuple[Staged, ...], image: str) -> None:
    try:
        diff_ids = validate.layer_count(validate.image_config(config_bytes, image), layers, image)
        for n, (diff_id, staged) in enumerate(zip(diff_ids, layers, strict=True)):
            validate.diff_id(n, staged.digest, diff_id, image, staged.raw_digest)
            scan_file(staged.path, f"layer {n + 1}")  # every header checked before anything is stored
    except RootlessBuildError as e:
        raise ArchiveError(f"{members.label}: {e}") from None
