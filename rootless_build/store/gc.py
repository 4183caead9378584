"""Garbage collection: dangling images, unreferenced blobs and the notes kept about them,
unused unpacked layers, temp files."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rootless_build.store import layout
from rootless_build.store.roots import BLOB_NOTES, BUILD_CACHE, VARIANTS, cache_manifests, reachable, root_manifests
from rootless_build.store.scratch import sweep
from rootless_build.store.store import Store
from rootless_build.store.trees import remove_tree as remove_tree  # re-exported (older imports)

if TYPE_CHECKING:
    from rootless_build.store.scratch import Remover


@dataclass
class PruneReport:
    images: list[str] = field(default_factory=list)
    blobs: int = 0
    bytes_freed: int = 0
    unpacked: int = 0
    cache_records: int = 0
    leftovers: list[str] = field(default_factory=list)  # what could not be removed


def prune(store: Store, *, in_use: Collection[str], dangling: bool = True, build_cache: bool = False,
          remove: Remover = remove_tree) -> PruneReport:
    """`in_use`: manifest digests containers stand on (the caller reads their records)."""
    report = PruneReport()
    with store.collecting():
        if dangling:
            _drop_dangling(store, report)
        if build_cache:
            for key, _ in list(store.records(BUILD_CACHE)):
                store.delete_record(BUILD_CACHE, key)
                report.cache_records += 1
        collect(store, report, in_use=in_use, remove=remove)
    return report


def collect(store: Store, report: PruneReport | None = None, *, in_use: Collection[str],
            remove: Remover = remove_tree) -> PruneReport:
    """Delete what no root reaches, and what killed operations left in tmp/. Call with the
    exclusive gc lock held. `remove` removes a tree; the default works as the user, and
    callers that can enter the user namespace pass one that also removes what sub-ids own."""
    report = report or PruneReport()
    from rootless_build.store.referrers import roots as attached

    images = root_manifests(store, in_use, include_cache=False)  # with their attached artifacts
    cache_only = cache_manifests(store) - images
    cache_only |= attached(store, cache_only) - images
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
            if remove(entry):
                report.unpacked += 1
            else:
                report.leftovers.append(str(entry))
        else:
            report.leftovers += _killed_unpacks(entry, remove)
    report.leftovers += [str(p) for p in sweep(store.tmp_root, remove, stale_too=True)]
    return report


def _killed_unpacks(layer_dir: Path, remove: Remover) -> list[str]:
    """Extractions into layers/<chain>/unpack-* that were killed: their chain's lock
    (held while extracting, see sandbox/layercache.py) is free, yet they are there."""
    partial = [p for p in layer_dir.iterdir() if p.name.startswith("unpack-")] if layer_dir.is_dir() else []
    if not partial:
        return []
    try:
        fd = os.open(layer_dir / "lock", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return []  # being extracted now
    try:
        return [str(p) for p in partial if not remove(p)]
    finally:
        os.close(fd)


def _drop_dangling(store: Store, report: PruneReport) -> None:
    with store.index_lock():
        entries = store.entries()
        keep = [e for e in entries if layout.ref_name(e)]
        report.images += [e["digest"] for e in entries if not layout.ref_name(e)]
        if len(keep) != len(entries):
            layout.write_index(store.root, keep)
