"""`fsck --repair`: rebuild a damaged index.json from what the store still holds.

The images themselves are the manifests in blobs/; only their tags live in the index. Tags
come, in this order, from the valid entries of the damaged index, then from index.json.backup
(a copy of the last index written, not fsynced: after a crash it may be one change behind).
Every other top-level manifest comes back untagged, listed as <none> and named by its
ID or digest, so that no image is lost; manifests only the build cache refers to stay as
they were (intermediate images, `images -a`). The damaged
file is kept as index.json.damaged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from rootless_build.oci import mediatypes as mt
from rootless_build.store import layout
from rootless_build.store.roots import BUILD_CACHE
from rootless_build.store.store import Store

DAMAGED_FILE = "index.json.damaged"
_DOCUMENT_LIMIT = 4 << 20  # manifests and indexes are small; layers are not read


@dataclass
class Repair:
    problem: str | None = None  # what was wrong with index.json (None: nothing to repair)
    tags: list[str] = field(default_factory=list)  # tags recovered
    untagged: list[str] = field(default_factory=list)  # manifest digests recovered without a tag
    dropped: list[str] = field(default_factory=list)  # entries naming a manifest no longer stored


def repair_index(store: Store) -> Repair:
    root = store.root
    with store.index_lock():
        current, problem = _salvage(root / layout.INDEX_FILE)
        if problem is None:
            return Repair()
        previous, _ = _salvage(root / layout.BACKUP_FILE)
        repair = Repair(problem=problem)
        entries = _merge(store, [current, previous], repair)
        cached = {rec.get("manifest") for _, rec in store.records(BUILD_CACHE)}
        listed = {e["digest"] for e in entries}
        for digest, media_type, size in _image_manifests(store):
            if digest not in listed and digest not in cached:
                entries.append({"mediaType": media_type, "digest": digest, "size": size})
                repair.untagged.append(digest)
        if (root / layout.INDEX_FILE).exists():
            os.replace(root / layout.INDEX_FILE, root / DAMAGED_FILE)
        layout.write_index(root, entries, keep_backup=False)
        layout.init_layout(root)  # an oci-layout file lost with the index
    return repair


def _salvage(path: Path) -> tuple[list[layout.Entry], str | None]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], f"{path} is missing"
    except OSError as e:
        return [], f"{path} cannot be read ({e.strerror})"
    entries, problem = layout.parse_index(raw)
    return entries, (f"{path}: {problem}" if problem else None)


def _merge(store: Store, sources: list[list[layout.Entry]], repair: Repair) -> list[layout.Entry]:
    """The first source to name a tag wins; untagged entries are kept once per image."""
    entries: list[layout.Entry] = []
    tags: set[str] = set()
    digests: set[str] = set()
    for source in sources:
        for entry in source:
            digest = entry["digest"]
            if not store.blobs.has(digest):
                if digest not in repair.dropped:
                    repair.dropped.append(digest)
                continue
            name = layout.ref_name(entry)
            if name in tags or (name is None and digest in digests):
                continue
            if name:
                tags.add(name)
                repair.tags.append(name)
            digests.add(digest)
            entries.append(entry)
    tagged = {e["digest"] for e in entries if layout.ref_name(e)}
    return [e for e in entries if layout.ref_name(e) or e["digest"] not in tagged]


def _image_manifests(store: Store) -> list[tuple[str, str, int]]:
    """(digest, media type, size) of every stored image manifest. Image indexes and
    artifacts are left out: index.json lists images only (a pull keeps the list it chose
    from; SBOMs and provenance hang off their image in `referrers` records)."""
    found: list[tuple[str, str, int]] = []
    for digest in sorted(store.blobs.list()):
        try:
            if store.blobs.size(digest) > _DOCUMENT_LIMIT:
                continue
            raw = store.blobs.read(digest)  # verified: a corrupt blob is no image
            doc = json.loads(raw)
        except Exception:  # noqa: BLE001 - a layer, a damaged blob, a file named like no digest
            continue
        if (isinstance(doc, dict) and doc.get("mediaType") not in mt.INDEXES
                and isinstance(doc.get("config"), dict) and isinstance(doc.get("layers"), list)
                and "subject" not in doc and "artifactType" not in doc):  # attestations are no images
            found.append((digest, doc.get("mediaType") or mt.OCI_MANIFEST, len(raw)))
    return found
