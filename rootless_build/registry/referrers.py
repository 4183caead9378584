"""Attestations (SBOMs, provenance) to and from a registry, as OCI 1.1 distribution
defines it: an artifact manifest is pushed by digest; a registry with the referrers API
answers with an `OCI-Subject` header and lists it itself, one without gets the tag
fallback: an image index under the tag `sha256-<subject hex>` listing the artifacts.
Reading asks the referrers API first, then that tag."""

from __future__ import annotations

import json

from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.registry.client import Repository
from rootless_build.registry.errors import RegistryNotFound
from rootless_build.store import Store
from rootless_build.store import referrers as stored

KNOWN_TYPES = ("application/spdx+json", "application/vnd.cyclonedx+json", "application/vnd.in-toto+json")
MAX_ARTIFACT = 64 << 20   # one SBOM or provenance document
MAX_INDEX = 4 << 20       # a referrers listing, as a manifest
MAX_REFERRERS = 64        # attestations fetched per pulled image


def fallback_tag(subject_digest: str) -> str:
    algo, hexpart = dg.parse(subject_digest)
    return f"{algo}-{hexpart}"


def push_attached(store: Store, repo: Repository, local_digest: str, subject: dict) -> int:
    """Push the artifacts attached to the stored image `local_digest`, re-pointed at the
    manifest as pushed (`subject`: its descriptor). Returns how many were pushed."""
    entries = stored.referrers(store, local_digest)
    pushed = []
    for entry in entries:
        manifest, data = stored.read_artifact(store, entry)
        layer = manifest["layers"][0]
        raw = stored.artifact_manifest(subject, manifest.get("artifactType", ""), layer["mediaType"], data,
                                       manifest.get("annotations"))
        put_blob(repo, stored.EMPTY_CONFIG)
        put_blob(repo, data)
        digest = dg.of_bytes(raw)
        what = f"pushing attestation {digest} to {repo.display}"
        resp = repo.transport.request("PUT", f"/v2/{repo.name}/manifests/{digest}", what=what, ok=(200, 201, 202),
                                      headers={"Content-Type": mt.OCI_MANIFEST}, body=raw)
        resp.close()
        if not resp.headers.get("OCI-Subject"):
            pushed.append(stored.descriptor(raw))
    if pushed:
        _extend_fallback_index(repo, subject["digest"], pushed)
    return len(entries)


def _extend_fallback_index(repo: Repository, subject_digest: str, entries: list[dict]) -> None:
    tag = fallback_tag(subject_digest)
    try:
        raw, _, _ = repo.get_manifest(tag)
        index = json.loads(raw)
        manifests = [m for m in index.get("manifests", []) if isinstance(m, dict)]
    except RegistryNotFound:
        manifests = []
    except ValueError:
        manifests = []  # a damaged fallback index is replaced
    known = {m.get("digest") for m in manifests}
    manifests += [e for e in entries if e["digest"] not in known]
    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests}
    repo.put_manifest(tag, json.dumps(index, separators=(",", ":")).encode(), mt.OCI_INDEX)


def list_referrers(repo: Repository, subject_digest: str) -> list[dict]:
    """The artifact descriptors the registry lists for `subject_digest` (API, then tag)."""
    what = f"listing referrers of {subject_digest} in {repo.display}"
    resp = repo.transport.request("GET", f"/v2/{repo.name}/referrers/{subject_digest}", what=what, ok=(200, 404),
                                  headers={"Accept": mt.OCI_INDEX}, stream=True)
    doc = None
    try:
        if resp.status_code == 200 and resp.headers.get("Content-Type", "").startswith(mt.OCI_INDEX):
            body = resp.raw.read(MAX_INDEX + 1, decode_content=True)
            doc = json.loads(body) if len(body) <= MAX_INDEX else None
    except ValueError:
        doc = None
    finally:
        resp.close()
    if doc is None:
        try:
            raw, _, _ = repo.get_manifest(fallback_tag(subject_digest))
            doc = json.loads(raw)
        except (RegistryNotFound, ValueError):
            return []
    manifests = doc.get("manifests") if isinstance(doc, dict) else None
    return [m for m in manifests or [] if isinstance(m, dict) and dg.is_digest(m.get("digest", ""))]


def pull_attached(store: Store, repo: Repository, subject_digest: str, listed: list[dict] | None = None) -> int:
    """Fetch the SBOM and provenance artifacts of a pulled image into the store (`listed`:
    list_referrers' answer when the caller asked already)."""
    count = 0
    for entry in list_referrers(repo, subject_digest) if listed is None else listed:
        if entry.get("artifactType") not in KNOWN_TYPES:
            continue
        if count >= MAX_REFERRERS:
            break
        raw, _, digest = repo.get_manifest(entry["digest"])
        try:
            doc = json.loads(raw)
            layers = doc.get("layers") or []
            subject = (doc.get("subject") or {}).get("digest")
        except (ValueError, AttributeError):
            continue  # not a JSON object: no attestation of ours
        if subject != subject_digest or not isinstance(layers, list) or len(layers) != 1 \
                or not isinstance(layers[0], dict) or not isinstance(doc.get("config"), dict):
            continue  # not an attestation of this image
        for desc in (doc.get("config") or {}, layers[0]):
            _fetch_blob(store, repo, desc)
        store.blobs.put_bytes(raw)
        stored.add_raw(store, subject_digest, raw)
        count += 1
    return count


def _fetch_blob(store: Store, repo: Repository, desc: dict) -> None:
    digest = desc.get("digest", "")
    if isinstance(digest, str) and dg.is_digest(digest) and store.blobs.has(digest):
        return
    store.blobs.put_bytes(repo.read_small_blob(digest, desc.get("size", -1), MAX_ARTIFACT, "attestation blob"))


def put_blob(repo: Repository, data: bytes, *, check: bool = True) -> None:
    """Upload a small document blob in one request, unless the registry has it (asked
    first unless `check` is false: for a blob new by construction, a round trip saved)."""
    digest = dg.of_bytes(data)
    if check and repo.has_blob(digest):
        return
    location = repo.start_upload()
    if location is not None:
        repo.finish_upload(location, digest, body=data, length=len(data))
