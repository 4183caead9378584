"""Check the store: every blob's digest and size, every reference, index.json itself.
Reports, never repairs (`fsck --repair` is store/repair.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.oci.documents import InvalidDocument, load_json
from rootless_build.store import layout
from rootless_build.store.layout import IndexDamaged
from rootless_build.store.roots import cache_manifests
from rootless_build.store.store import Store


@dataclass
class FsckReport:
    problems: list[str] = field(default_factory=list)
    blobs_checked: int = 0
    images_checked: int = 0
    index_damaged: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def fsck(store: Store, in_use: Iterable[str] = ()) -> FsckReport:
    """`in_use`: images containers stand on (containers.usage), checked as well."""
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
    try:
        entries = store.entries()
    except IndexDamaged as e:
        report.problems.append(str(e))
        report.index_damaged = True
        entries = []
    names = {e["digest"]: layout.ref_name(e) for e in entries}
    from rootless_build.store.referrers import roots as attached

    roots = set(names) | cache_manifests(store) | set(in_use)
    for digest in sorted(roots | attached(store, roots)):
        report.images_checked += 1
        label = names.get(digest) or digest
        _check_manifest(store, digest, label, corrupt, report)
    return report


def _check_manifest(store: Store, digest: object, label: str, corrupt: set[str], report: FsckReport) -> None:
    if not isinstance(digest, str) or not dg.is_digest(digest):
        report.problems.append(f"image {label}: {digest!r} is not a valid digest")
        return
    if not store.blobs.has(digest):
        report.problems.append(f"image {label}: manifest {digest} is missing")
        return
    if digest in corrupt:
        report.problems.append(f"image {label}: manifest {digest} is corrupt")
        return
    try:
        doc = load_json(store.blobs.path(digest).read_bytes(), "manifest")
        children = doc.get("manifests")
        descriptors = [doc.get("config") or {}] + list(doc.get("layers") or [])
        if not all(isinstance(d, dict) for d in [*(children or []), *descriptors]):
            raise InvalidDocument("manifest has a descriptor that is not an object")
    except (InvalidDocument, TypeError) as e:
        report.problems.append(f"image {label}: {e}")
        return
    if doc.get("mediaType") in mt.INDEXES or children is not None:
        for child in children or []:
            _check_manifest(store, child.get("digest"), label, corrupt, report)
        return
    for desc in descriptors:
        blob = desc.get("digest")
        if not isinstance(blob, str) or not dg.is_digest(blob):
            report.problems.append(f"image {label}: {blob!r} is not a valid digest")
        elif not store.blobs.has(blob):
            report.problems.append(f"image {label}: blob {blob} is missing")
        elif blob in corrupt:
            report.problems.append(f"image {label}: blob {blob} is corrupt")
        elif (size := store.blobs.size(blob)) != desc.get("size"):
            report.problems.append(f"image {label}: blob {blob} has size {size}, manifest says {desc.get('size')}")
