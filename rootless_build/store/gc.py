"""Garbage collection: dangling images, unreferenced blobs and the notes kept about them,
unused unpacked layers, temp files."""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from rootless_build.store import layout
from rootless_build.store.roots import BLOB_NOTES, BUILD_CACHE, VARIANTS, cache_manifests, reachable, root_manifests
from rootless_build.store.store import Store


@dataclass
class PruneReport:
    images: list[str] = field(default_factory=list)
    blobs: int = 0
    bytes_freed: int = 0
    unpacked: int = 0
    cache_records: int = 0


def prune(store: Store, *, dangling: bool = True, build_cache: bool = False) -> PruneReport:
    report = PruneReport()
    with store.collecting():
        if dangling:
            _drop_dangling(store, report)
        if build_cache:
            for key, _ in list(store.records(BUILD_CACHE)):
                store.delete_record(BUILD_CACHE, key)
                report.cache_records += 1
        collect(store, report)
    return report


def collect(store: Store, report: PruneReport | None = None) -> PruneReport:
    """Delete what no root reaches. Call with the exclusive gc lock held."""
    report = report or PruneReport()
    images = root_manifests(store, include_cache=False)
    cache_only = cache_manifests(store) - images
    live_blobs, live_chains = reachable(store, images | cache_only, cached=cache_only)
    for digest in list(store.blobs.list()):
        if digest not in live_blobs:
            try:
                report.bytes_freed += store.blobs.size(digest)
            except OSError:
                pass
            store.blobs.delete(digest)
            report.blobs += 1
    for key, rec in list(store.records(VARIANTS)):
        if rec.get("digest") not in live_blobs:
            store.delete_record(VARIANTS, key)
    live_names = {store.record_path(BLOB_NOTES[0], digest).name for digest in live_blobs}
    for kind in BLOB_NOTES:
        for name in store.record_names(kind):
            if name not in live_names:
                store.delete_record(kind, name)
    live_hex = {c.split(":", 1)[1] for c in live_chains}
    for entry in store.layers_dir.iterdir():
        if entry.name not in live_hex:
            remove_tree(entry)
            report.unpacked += 1
    for entry in store.tmp_dir.iterdir():
        remove_tree(entry)
    return report


def _drop_dangling(store: Store, report: PruneReport) -> None:
    with store.index_lock():
        entries = store.entries()
        keep = [e for e in entries if layout.ref_name(e)]
        report.images += [e["digest"] for e in entries if not layout.ref_name(e)]
        if len(keep) != len(entries):
            layout.write_index(store.root, keep)


def remove_tree(path: Path) -> None:
    """rmtree that first makes read-only directories writable (extracted layers have them)."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
        return

    def fix_and_retry(func, failed_path, _exc):
        parent = os.path.dirname(failed_path)
        try:
            os.chmod(parent, stat.S_IRWXU)
            if os.path.isdir(failed_path) and not os.path.islink(failed_path):
                os.chmod(failed_path, stat.S_IRWXU)
            func(failed_path)
        except OSError:
            pass

    shutil.rmtree(path, onerror=fix_and_retry)
