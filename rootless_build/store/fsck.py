"""Check the store: every blob's digest and size, every reference. Reports, never repairs."""

from __future__ import annotations

from dataclasses import dataclass, field

from rootless_build.oci import mediatypes as mt
from rootless_build.oci.documents import InvalidDocument, load_json
from rootless_build.store import layout
from rootless_build.store.roots import root_manifests
from rootless_build.store.store import Store


@dataclass
class FsckReport:
    problems: list[str] = field(default_factory=list)
    blobs_checked: int = 0
    images_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def fsck(store: Store) -> FsckReport:
    report = FsckReport()
    corrupt: set[str] = set()
    for digest in sorted(store.blobs.list()):
        report.blobs_checked += 1
        try:
            problem = store.blobs.verify(digest)
        except Exception as e:  # a file named like no digest
            problem = str(e)
        if problem:
            corrupt.add(digest)
            report.problems.append(f"blob {digest}: {problem}")
    names = {e["digest"]: layout.ref_name(e) for e in store.entries()}
    for digest in sorted(root_manifests(store)):
        report.images_checked += 1
        label = names.get(digest) or digest
        _check_manifest(store, digest, label, corrupt, report)
    return report


def _check_manifest(store: Store, digest: str, label: str, corrupt: set[str], report: FsckReport) -> None:
    if not store.blobs.has(digest):
        report.problems.append(f"image {label}: manifest {digest} is missing")
        return
    if digest in corrupt:
        report.problems.append(f"image {label}: manifest {digest} is corrupt")
        return
    try:
        doc = load_json(store.blobs.path(digest).read_bytes())
    except InvalidDocument as e:
        report.problems.append(f"image {label}: {e}")
        return
    if doc.get("mediaType") in mt.INDEXES or "manifests" in doc:
        for child in doc.get("manifests", []):
            _check_manifest(store, child.get("digest", ""), label, corrupt, report)
        return
    for desc in [doc.get("config", {})] + list(doc.get("layers", [])):
        blob = desc.get("digest", "")
        if not store.blobs.has(blob):
            report.problems.append(f"image {label}: blob {blob} is missing")
        elif blob in corrupt:
            report.problems.append(f"image {label}: blob {blob} is corrupt")
        elif store.blobs.size(blob) != desc.get("size"):
            report.problems.append(f"image {label}: blob {blob} has size {store.blobs.size(blob)}, manifest says {desc.get('size')}")
